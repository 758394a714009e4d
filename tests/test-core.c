/*
 * test-core.c - error messages: per thread, prefixing, status names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <string.h>

#include "loco/core.h"

static void test_set_and_read(void **state)
{
    (void)state;
    assert_int_equal(loco_error_set(LOCO_ERR_FORMAT, "bad %s at %d", "magic", 4),
                     LOCO_ERR_FORMAT);
    assert_string_equal(loco_error_message(), "bad magic at 4");
    loco_error_prefix("file %s", "x.gguf");
    assert_string_equal(loco_error_message(), "file x.gguf: bad magic at 4");
    loco_error_clear();
    assert_string_equal(loco_error_message(), "");
}

static void test_long_message_truncated(void **state)
{
    (void)state;
    char big[4000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    loco_error_set(LOCO_ERR_IO, "%s", big);
    assert_true(strlen(loco_error_message()) < sizeof big);
}

static void *other_thread(void *arg)
{
    (void)arg;
    loco_error_set(LOCO_ERR_IO, "from the other thread");
    return NULL;
}

static void test_per_thread(void **state)
{
    (void)state;
    loco_error_set(LOCO_ERR_NOMEM, "mine");
    pthread_t t;
    pthread_create(&t, NULL, other_thread, NULL);
    pthread_join(t, NULL);
    assert_string_equal(loco_error_message(), "mine");
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(loco_status_name(LOCO_OK), "ok");
    assert_string_equal(loco_status_name(LOCO_ERR_CHECKSUM), "checksum");
    assert_string_equal(loco_status_name(-999), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_and_read),
        cmocka_unit_test(test_long_message_truncated),
        cmocka_unit_test(test_per_thread),
        cmocka_unit_test(test_status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
