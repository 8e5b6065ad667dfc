/* Threads parked in libc under libwork.so frames; the main thread then crashes through
 * libwork.so. Built with frame pointers; libwork.so without. */
#include <pthread.h>
#include <stdlib.h>

void wait_deep(int depth, pthread_barrier_t *ready, pthread_barrier_t *done);
int crash_via_work(int *p);

static pthread_barrier_t ready, done;

void park(pthread_barrier_t *d) {
    pthread_barrier_wait(d);              /* never reached by all: the process crashes */
}

static void *worker(void *arg) {
    wait_deep((int)(long)arg % 4, &ready, &done);
    return NULL;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 3;
    pthread_t t[64];
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 65536);
    if (n > 64)
        n = 64;
    pthread_barrier_init(&ready, NULL, (unsigned)n + 1);
    pthread_barrier_init(&done, NULL, (unsigned)n + 1);
    for (long i = 0; i < n; i++)
        pthread_create(&t[i], &a, worker, (void *)i);
    pthread_barrier_wait(&ready);
    int *volatile p = NULL;
    return crash_via_work(p);
}
