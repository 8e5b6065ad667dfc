#include <stdio.h>
int one_entry(int x);
__attribute__((noinline)) static int run(int argc) {
    int r = one_entry(argc);
    printf("%d\n", r);
    return r;
}
int main(int argc, char **argv) {
    (void)argv;
    return run(argc) == 42;
}
