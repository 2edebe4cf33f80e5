// A process with N idle threads named like QEMU's vCPU threads ("CPU <n>/KVM"), for benchmarks.
// Usage: threads N                      (prints its pid, then sleeps until killed)
//        qemu-system-x86_64 -name guest=X -uuid U -smp N   (a copy under QEMU's name: the
//        agent's qemu source then finds it as a VM with N vCPUs)
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *idle(void *arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 2000;
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], "-smp") == 0) n = atoi(argv[i + 1]);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  for (int i = 0; i < n; i++) {
    pthread_t t;
    if (pthread_create(&t, &attr, idle, NULL) != 0) { perror("pthread_create"); return 1; }
    char name[16];
    snprintf(name, sizeof name, "CPU %d/KVM", i);
    pthread_setname_np(t, name);
  }
  printf("%d\n", getpid());
  fflush(stdout);
  for (;;) pause();
}
