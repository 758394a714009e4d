/*
 * compare.c - one benchmark's two sides compared: pass@k over the samples,
 * the judge's figures, the contamination flags, then the paired statistics
 * (exact McNemar for pass/fail items, Wilcoxon and the paired bootstrap for
 * scores, loco/stats.h) and the gate.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench_internal.h"

/* pass@k is reported for these k (those <= n). */
static const uint32_t pass_ks[LOCO_EVAL_MAX_PASS_K] = {1, 5, 10, 20, 50, 100};

double loco_eval_pass_at_k(uint32_t n, uint32_t c, uint32_t k)
{
    if (k == 0 || k > n || c > n)
        return NAN;
    if (n - c < k)
        return 1.0;         /* every draw of k contains a correct sample */
    double all_wrong = 1.0; /* C(n-c, k) / C(n, k) */
    for (uint32_t i = n - c + 1; i <= n; i++)
        all_wrong *= 1.0 - (double)k / (double)i;
    return 1.0 - all_wrong;
}

void eval_pass_k_summary(struct loco_eval_bench *b)
{
    for (size_t k = 0; k < LOCO_EVAL_MAX_PASS_K && pass_ks[k] <= b->samples; k++) {
        b->pass_k[b->n_pass_k] = pass_ks[k];
        for (int side = 0; side < 2; side++) {
            double sum = 0;
            for (size_t i = 0; i < b->n; i++)
                sum += loco_eval_pass_at_k(b->samples, b->items[i].n_correct[side], pass_ks[k]);
            b->pass_at_k[side][b->n_pass_k] = b->n ? sum / (double)b->n : NAN;
        }
        b->n_pass_k++;
    }
}

/* Mean valid rating, mean per-item sd and range, unparseable judgments. */
void eval_judge_summary(struct loco_eval_bench *b, int side)
{
    double sum = 0, sd_sum = 0, range_sum = 0;
    size_t valid = 0, n_sd = 0, n_range = 0;
    for (size_t i = 0; i < b->n; i++) {
        const struct loco_eval_item *it = &b->items[i];
        double s1 = 0, s2 = 0, lo = INFINITY, hi = -INFINITY;
        size_t m = 0;
        for (uint32_t j = 0; j < it->n_ratings; j++) {
            double v = it->rating[side][j];
            if (isnan(v))
                continue;
            s1 += v;
            s2 += v * v;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            m++;
        }
        sum += s1;
        valid += m;
        if (m >= 1) {
            range_sum += hi - lo;
            n_range++;
        }
        if (m >= 2) {
            double var = (s2 - s1 * s1 / (double)m) / (double)(m - 1);
            sd_sum += sqrt(var > 0 ? var : 0);
            n_sd++;
        }
    }
    b->mean_rating[side] = valid ? sum / (double)valid : NAN;
    b->rating_sd[side] = n_sd ? sd_sum / (double)n_sd : NAN;
    b->rating_range[side] = n_range ? range_sum / (double)n_range : NAN;
    b->n_unparsed[side] = b->n_judgments[side] - valid;
}

int eval_compare(struct loco_eval_bench *b, const struct loco_eval_params *p)
{
    size_t n = b->n, m = 0;
    if (n == 0)
        return loco_error_set(LOCO_ERR_INVALID, "benchmark %s has no items", b->name);
    double *x0 = malloc(n * sizeof *x0), *x1 = malloc(n * sizeof *x1);
    uint8_t *y0 = malloc(n), *y1 = malloc(n);
    int rc = x0 && x1 && y0 && y1 ? LOCO_OK : LOCO_ERR_NOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        if (b->items[i].unrated) /* no valid rating on a side: no pair */
            continue;
        if (b->decontaminated && b->items[i].contaminated)
            continue;
        x0[m] = b->items[i].score[0];
        x1[m] = b->items[i].score[1];
        y0[m] = x0[m] > 0.5;
        y1[m] = x1[m] > 0.5;
        m++;
    }
    b->n_used = m;
    if (!rc && b->binary) {
        rc = loco_stats_binary_paired(y0, y1, m, &p->stats, &b->bin);
        b->base_score = b->bin.base_acc;
        b->adapter_score = b->bin.adapter_acc;
        b->diff = b->bin.diff;
        b->diff_ci = b->bin.diff_ci;
        b->p_value = b->bin.p_value;
    } else if (!rc && m < 2) {
        /* e.g. a judge that rated nothing: no statistics, and no gate */
        b->base_score = b->adapter_score = b->diff = b->p_value = NAN;
        b->diff_ci = (struct loco_ci){NAN, NAN};
        b->cont.base_ci = b->cont.adapter_ci = b->diff_ci;
        b->cont.bootstrap_p = b->cont.cohens_dz = b->cont.wilcoxon.rank_biserial = NAN;
        b->cont.power[0] = b->cont.power[1] = NAN;
        b->verdict = LOCO_VERDICT_FAIL;
        b->gate_why = "fewer than 2 items have a valid rating on both sides";
        goto done;
    } else if (!rc) {
        rc = loco_stats_continuous_paired(x0, x1, m, &p->stats, &b->cont);
        b->base_score = b->cont.base_mean;
        b->adapter_score = b->cont.adapter_mean;
        b->diff = b->cont.diff;
        b->diff_ci = b->cont.diff_ci;
        b->p_value = b->cont.p_value;
    }
    if (!rc && b->in_domain)
        b->verdict = loco_stats_gate_domain(m, b->p_value, b->diff, p->stats.alpha, &b->gate_why)
                         ? LOCO_VERDICT_PASS
                         : LOCO_VERDICT_FAIL;
    else if (!rc)
        b->verdict = loco_stats_gate_noninferior_verdict(m, b->base_score, b->diff_ci,
                                                         p->stats.ni_margin, &b->gate_why);
    if (!rc && b->n_contaminated && !b->decontaminated) {
        b->verdict = LOCO_VERDICT_FAIL;
        b->gate_why = "contaminated: items share 13-grams with the adapter's training data "
                      "(see contamination; --decontaminate scores the clean items)";
    }
done:
    b->gate_passed = b->verdict == LOCO_VERDICT_PASS;
    free(x0);
    free(x1);
    free(y0);
    free(y1);
    return rc;
}

/* Each item's prompt against the adapter's training data. */
int eval_check_contamination(struct loco_eval_bench *b, const struct loco_eval_params *p)
{
    b->contam_checked = true;
    b->contam_threshold = p->contam_threshold;
    for (size_t i = 0; i < b->n; i++) {
        struct loco_eval_item *it = &b->items[i];
        struct loco_contam_hit hit;
        int rc = loco_contam_query(p->contam, it->prompt, &hit);
        if (rc)
            return rc;
        it->contam_exact = hit.exact;
        it->contam_fraction = hit.fraction;
        it->contaminated = loco_contam_is_contaminated(&hit, p->contam_threshold);
        b->n_contam_exact += hit.exact;
        b->n_contam_overlap += hit.found > 0;
        b->n_contaminated += it->contaminated;
    }
    b->decontaminated = p->decontaminate && b->n_contaminated > 0;
    return LOCO_OK;
}
