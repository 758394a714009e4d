/*
 * embed-collide.c - a program that embeds liblocollm.a and defines, for its
 * own use, functions with the same names as the library's internal ones
 * (lora_init, sbuf_add, rnode_parse_text, yaml_guard_check, ...).
 *
 * Linking succeeds only when the archive exports nothing but loco_* names:
 * otherwise the linker reports a multiple definition. Running it checks that
 * each side still calls its own function: the program's versions return
 * their marker values, and the library still loads a registry (which goes
 * through its own rnode_* and yaml_guard_check) and computes a SHA-256.
 *
 * usage: embed-collide REGISTRY.yaml
 */
#include <stdio.h>
#include <string.h>

#include "loco/core.h"
#include "loco/registry.h"

/* The program's own functions, named like the library's internals. */
int lora_init(void);
int sbuf_add(void);
int rnode_parse_text(void);
int yaml_guard_check(void);
int doc_text(void);
int models_hex(void);

int lora_init(void) { return 101; }
int sbuf_add(void) { return 102; }
int rnode_parse_text(void) { return 103; }
int yaml_guard_check(void) { return 104; }
int doc_text(void) { return 105; }
int models_hex(void) { return 106; }

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: embed-collide REGISTRY.yaml\n");
        return 2;
    }
    int mine = lora_init() + sbuf_add() + rnode_parse_text() + yaml_guard_check() + doc_text() +
               models_hex();
    if (mine != 101 + 102 + 103 + 104 + 105 + 106) {
        fprintf(stderr, "embed-collide: the program's own functions were replaced\n");
        return 1;
    }
    struct loco_registry *r = loco_registry_load_file(argv[1], false);
    if (!r) {
        fprintf(stderr, "embed-collide: registry: %s\n", loco_error_message());
        return 1;
    }
    size_t n = loco_registry_n_adapters(r);
    loco_registry_free(r);
    if (n == 0) {
        fprintf(stderr, "embed-collide: the registry read as empty\n");
        return 1;
    }
    printf("embed-collide: own functions intact, library read %zu adapters\n", n);
    return 0;
}
