/* Per-block guest instruction profile, a QEMU TCG plugin (plugin API v1, qemu 7.2),
 * for bench/profile.sh. For every translated block it counts how often the block ran;
 * at exit it writes one line per block that ran, "VADDR INSNS COUNT" (hex, decimal,
 * decimal), to the file named by $TBPROF_OUT (default /tmp/tbprof.out).
 * Build: gcc -shared -fPIC -O2 -o libtbprof.so tbprof.c
 * Use:   TBPROF_OUT=f qemu-arm -cpu cortex-a7 -L /usr/arm-linux-gnueabihf -plugin ./libtbprof.so prog
 * The plugin API is declared here (no QEMU headers needed), as in
 * ../shared/tools/qemu-insncount/insncount.c. */
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef void (*tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*udata_cb_t)(qemu_plugin_id_t id, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, int op, void *ptr,
                                              uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, udata_cb_t cb, void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* One translation of a block: a block translated again gets a record of its own;
 * the reader adds them up by address. */
struct block {
    uint64_t vaddr, insns, count;
    struct block *next;
};
static struct block *blocks;

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    struct block *b = calloc(1, sizeof *b);
    if (!b) return;
    b->vaddr = qemu_plugin_tb_vaddr(tb);
    b->insns = qemu_plugin_tb_n_insns(tb);
    b->next = blocks;
    blocks = b;
    /* op 0: QEMU_PLUGIN_INLINE_ADD_U64, one more run of this block. */
    qemu_plugin_register_vcpu_tb_exec_inline(tb, 0, &b->count, 1);
}

static void at_exit(qemu_plugin_id_t id, void *unused) {
    const char *path = getenv("TBPROF_OUT");
    FILE *f = fopen(path ? path : "/tmp/tbprof.out", "w");
    if (!f) return;
    for (struct block *b = blocks; b; b = b->next)
        if (b->count)
            fprintf(f, "%llx %llu %llu\n", (unsigned long long)b->vaddr,
                    (unsigned long long)b->insns, (unsigned long long)b->count);
    fclose(f);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id,
                                                               const void *info, int argc,
                                                               char **argv) {
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
