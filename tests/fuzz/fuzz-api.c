/*
 * fuzz-api.c - libFuzzer harness for the request parser of `loco serve`
 * (loco/api.h).
 *
 * Why: every byte of a request body comes from the network. The parser must
 * refuse anything malformed with a 4xx status, a field and a message, never
 * read outside the body, never leak, and whatever it accepts must hold only
 * well-formed UTF-8 text within the server's limits. The first input byte
 * picks the API (chat, completions, Ollama chat, Ollama generate); the rest
 * is the body. Run it with tests/fuzz/run-fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loco/api.h"
#include "loco/core.h"

static void check_text(const char *s)
{
    if (!s || !loco_api_utf8_valid(s, strlen(s)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    enum loco_api_kind kind = (enum loco_api_kind)(data[0] % 4);
    struct loco_api_limits lim = loco_api_default_limits();
    lim.max_body = 4096;
    lim.max_messages = 16;
    struct loco_api_request r;
    struct loco_api_error e;
    int rc = loco_api_parse(kind, (const char *)data + 1, size - 1, &lim, &r, &e);
    if (rc != LOCO_OK) {
        if (e.status < 400 || e.status > 599 || !e.message[0])
            abort();
        char *j = loco_api_error_json(&e);
        free(j);
        return 0;
    }
    check_text(r.model);
    if ((kind == LOCO_API_CHAT || kind == LOCO_API_OLLAMA_CHAT) != (r.msgs != NULL))
        abort();
    for (size_t i = 0; i < r.n_msgs; i++) {
        check_text(r.msgs[i].role);
        check_text(r.msgs[i].content);
    }
    if (r.prompt)
        check_text(r.prompt);
    if (r.n < 1 || r.n > lim.max_n || r.max_tokens > lim.max_tokens || r.n_stop > LOCO_API_MAX_STOP)
        abort();
    if (r.has_temperature && !(r.temperature >= 0 && r.temperature <= 2))
        abort();
    loco_api_request_free(&r);
    return 0;
}
