/*
 * prompts.c - the prompt formats: how a dataset record becomes the user
 * message an adapter is trained on and evaluated with. One table, read by
 * the built-in benchmarks (items.c) and by training recipes that name a
 * format (`data.prompt_format: mbpp`, src/train/run/recipe.c), so the
 * adapter is evaluated on exactly the prompt it was trained on. Templates
 * are a recipe's: {field} is the record's field (a list one element per
 * line), rendered by loco_train_template_expand for both.
 */
#include <string.h>

#include "loco/eval.h"

static const struct loco_prompt_format formats[] = {
    {"gsm8k", "{question}", "{answer_text}",
     "the question alone; the worked answer ends \"#### N\" (GSM8K)"},
    {"gsm8k-pot",
     "{question}\n\nWrite a Python program that solves this problem and prints the final "
     "answer as a number. Answer with the program in a ```python block.",
     NULL,
     "the question and an instruction to answer with a Python program that prints the "
     "number (GSM8K program of thought; evaluation only)"},
    {"mbpp", "{text}\nYour code should pass these tests:\n{test_list}", "{code}",
     "the problem and its asserts, so the function's name and signature show (MBPP)"},
    {"summarisation", "Summarise this article in one sentence.\n\n{document}", "{summary}",
     "the instruction, then the article (XSum; evaluation cuts it at 400 words)"},
    {"humaneval",
     "Complete this Python function. Answer with the whole function in a ```python "
     "block.\n\n```python\n{prompt}```",
     NULL, "the signature and docstring in a python block (HumanEval; evaluation only)"},
    {"arc", "{question_and_choices}\nAnswer with the letter of the correct choice.", NULL,
     "the question with its lettered choices (loco_mc_prompt) (ARC; evaluation only)"},
};
#define N_FORMATS (sizeof formats / sizeof formats[0])

const struct loco_prompt_format *loco_prompt_formats(size_t *n)
{
    *n = N_FORMATS;
    return formats;
}

const struct loco_prompt_format *loco_prompt_format_find(const char *name)
{
    for (size_t i = 0; name && i < N_FORMATS; i++)
        if (!strcmp(formats[i].name, name))
            return &formats[i];
    loco_error_set(LOCO_ERR_NOT_FOUND,
                   "no prompt format '%s' (known: gsm8k, gsm8k-pot, mbpp, "
                   "summarisation, humaneval, arc)",
                   name ? name : "(null)");
    return NULL;
}
