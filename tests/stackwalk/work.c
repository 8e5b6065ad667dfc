/* libwork.so: built with -O2 -fomit-frame-pointer, so only its CFI unwinds it. */
#include <pthread.h>
#include <stddef.h>

extern void park(pthread_barrier_t *done);

static volatile int sink;

__attribute__((noinline)) int leaf_crash(int *p, int v) {
    sink = v;
    *p = v;                                  /* the crash: p is NULL */
    return sink + 1;
}

__attribute__((noinline)) int middle(int *p, int depth) {
    int r;
    if (depth > 0)
        r = middle(p, depth - 1) + 1;
    else
        r = leaf_crash(p, 42);
    sink = r;
    return r;
}

__attribute__((noinline)) int crash_via_work(int *p) {
    int r = middle(p, 3);
    sink = r;
    return r;
}

__attribute__((noinline)) void wait_deep(int depth, pthread_barrier_t *ready, pthread_barrier_t *done) {
    if (depth > 0) {
        wait_deep(depth - 1, ready, done);
        sink = depth;
        return;
    }
    pthread_barrier_wait(ready);
    park(done);
    sink = 0;
}
