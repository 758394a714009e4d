"""tests/cli/serve-openai.py - `loco serve` through the official openai client.

    serve-openai.py BASE_URL api            models, chat (plain and streamed),
                                            completions, an unknown model
    serve-openai.py BASE_URL auth KEY       a server started with --api-key KEY

Run by tests/cli/t0830-serve-openai.sh in a virtual environment with
`pip install openai`. Prints what it checked; exits 1 with FAIL: on the first
thing that is not as the server's OpenAI contract says (the response
shapes of OpenAI's API, plus the `loco` object beside them).
"""
import sys

import openai

MAX_TOKENS = 24
SEED = 7
QUESTION = [{"role": "user", "content": "What is 2 plus 3? Answer in one sentence."}]


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}")
        sys.exit(1)


def client(base, key="no-key-needed"):
    # no retries: an error must show at once, not after the client's back-off
    return openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=300)


def loco_extra(obj):
    """The `loco` object beside the OpenAI fields (kept as an extra by the client)."""
    extra = (obj.model_extra or {}).get("loco")
    return extra if extra is not None else obj.to_dict().get("loco")


def check_models(c):
    ids = [m.id for m in c.models.list()]
    check("loco" in ids, f"models.list() has no 'loco': {ids}")
    check("loco:base" in ids, f"models.list() has no 'loco:base': {ids}")
    print(f"models: {ids}")


def check_chat(c):
    """The greedy answer, plain: returns (text, usage, finish_reason)."""
    r = c.chat.completions.create(model="loco", messages=QUESTION, max_tokens=MAX_TOKENS,
                                  temperature=0, seed=SEED)
    check(r.object == "chat.completion", f"object {r.object!r}")
    check(len(r.choices) == 1, f"{len(r.choices)} choices")
    ch = r.choices[0]
    text = ch.message.content
    check(isinstance(text, str) and text.strip(), f"empty answer: {text!r}")
    check(ch.message.role == "assistant", f"role {ch.message.role!r}")
    check(ch.finish_reason in ("stop", "length"), f"finish_reason {ch.finish_reason!r}")
    u = r.usage
    check(u is not None and u.prompt_tokens > 0, f"usage {u}")
    check(0 < u.completion_tokens <= MAX_TOKENS, f"completion_tokens {u.completion_tokens}")
    check(u.total_tokens == u.prompt_tokens + u.completion_tokens, f"total_tokens {u}")
    if ch.finish_reason == "length":
        check(u.completion_tokens == MAX_TOKENS, f"length after {u.completion_tokens} tokens")
    loco = loco_extra(r)
    check(isinstance(loco, dict), f"no loco object in {r.to_dict()}")
    for key in ("domain", "adapter", "router", "label"):
        check(key in loco, f"loco object has no {key!r}: {loco}")
    print(f"chat: {text!r}, {u.completion_tokens} tokens, {ch.finish_reason}, loco {loco}")
    return text, u, ch.finish_reason


def check_stream(c, text, usage, finish):
    """The same request streamed: the deltas join into the plain answer."""
    stream = c.chat.completions.create(model="loco", messages=QUESTION, max_tokens=MAX_TOKENS,
                                       temperature=0, seed=SEED, stream=True,
                                       stream_options={"include_usage": True})
    parts, chunks, usage_chunk, reason, first = [], 0, None, None, None
    for chunk in stream:
        chunks += 1
        check(chunk.object == "chat.completion.chunk", f"chunk object {chunk.object!r}")
        check(usage_chunk is None, "a chunk after the usage chunk")
        if first is None:
            first = chunk
        if chunk.usage is not None:
            check(chunk.choices == [], f"the usage chunk has choices: {chunk.choices}")
            usage_chunk = chunk.usage
        for ch in chunk.choices:
            if ch.delta.content:
                parts.append(ch.delta.content)
            if ch.finish_reason:
                reason = ch.finish_reason
    check(first is not None and first.choices, "no first chunk with a choice")
    check(first.choices[0].delta.role == "assistant", f"first delta {first.choices[0].delta}")
    check(isinstance(loco_extra(first), dict), f"the first chunk has no loco object: {first}")
    joined = "".join(parts)
    check(joined == text, f"streamed {joined!r} != plain {text!r}")
    check(reason == finish, f"streamed finish_reason {reason!r} != plain {finish!r}")
    check(usage_chunk is not None, "no usage chunk with stream_options.include_usage")
    check(usage_chunk.completion_tokens == usage.completion_tokens,
          f"streamed usage {usage_chunk} != plain {usage}")
    check(usage_chunk.prompt_tokens == usage.prompt_tokens, f"prompt_tokens {usage_chunk}")
    print(f"stream: {chunks} chunks, same text, usage {usage_chunk.completion_tokens} tokens")


def check_completions(c):
    r = c.completions.create(model="loco", prompt="The capital of France is",
                             max_tokens=8, temperature=0, seed=SEED)
    check(r.object == "text_completion", f"object {r.object!r}")
    check(len(r.choices) == 1 and isinstance(r.choices[0].text, str), f"choices {r.choices}")
    check(r.choices[0].finish_reason in ("stop", "length"), f"finish {r.choices[0].finish_reason}")
    check(r.usage is not None and 0 < r.usage.completion_tokens <= 8, f"usage {r.usage}")
    check(r.choices[0].text.strip() or r.choices[0].finish_reason == "stop",
          f"8 tokens of nothing: {r.choices[0].text!r}")
    print(f"completions: {r.choices[0].text!r}")


def check_unknown_model(c):
    try:
        c.chat.completions.create(model="loco:no-such-adapter", messages=QUESTION, max_tokens=4)
    except (openai.NotFoundError, openai.BadRequestError) as e:
        check("no-such-adapter" in str(e), f"the message does not name the model: {e}")
        body = e.body if isinstance(e.body, dict) else {}
        check(isinstance(body.get("message"), str), f"no OpenAI error object: {e.body}")
        print(f"unknown model: {e.status_code} {body.get('message')!r}")
        return
    check(False, "an unknown model was answered")


def check_auth(base, key):
    # no key: the client wants one, so the request leaves its header out
    tries = [("no key", client(base, "unused"), {"Authorization": openai.Omit()}),
             ("a wrong key", client(base, "not-" + key), None)]
    for what, c, headers in tries:
        try:
            c.models.list(extra_headers=headers)
        except openai.AuthenticationError as e:
            check(e.status_code == 401, f"status {e.status_code}")
            check(e.request.headers.get("authorization") is None or what != "no key",
                  "the request without a key had an Authorization header")
            print(f"{what}: 401 {e.message!r}")
            continue
        check(False, f"{what} was let in")
    ids = [m.id for m in client(base, key).models.list()]
    check("loco" in ids, f"with the key: {ids}")
    r = client(base, key).chat.completions.create(model="loco", messages=QUESTION, max_tokens=4,
                                                  temperature=0)
    check(r.choices[0].message.content is not None, "with the key: no answer")
    print("with the key: models and chat answered")


def main():
    base, mode = sys.argv[1].rstrip("/"), sys.argv[2]
    if mode == "auth":
        check_auth(base, sys.argv[3])
        return
    c = client(base)
    check_models(c)
    text, usage, finish = check_chat(c)
    check_stream(c, text, usage, finish)
    check_completions(c)
    check_unknown_model(c)


if __name__ == "__main__":
    main()
