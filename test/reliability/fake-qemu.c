// A process that looks like a QEMU VM to vsteal's qemu source, for the reliability tests:
// argv[0] ends in qemu-system-x86_64 (a copy of the binary under that name), `-smp N` makes N
// threads named "CPU <n>/KVM", like scripts/bench/threads.c. Extras (QEMU ignores nothing, but
// vsteal only reads -name, -uuid, -id and -smp):
//   -vsteal-busy PCT   each vCPU thread runs PCT % of every 10 ms and sleeps the rest (default 0:
//                      the threads only sleep), so run time and run-queue delay really grow;
//   SIGUSR1            the highest-numbered vCPU thread still there exits (a vCPU unplug); the
//                      process prints "exited <vcpu> <tid>" once it has.
// It prints its pid once every thread is named, then lives until killed.
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_VCPUS 4096

static int busy_pct;
static pthread_t threads[MAX_VCPUS];
static atomic_int tids[MAX_VCPUS];
static atomic_int leave[MAX_VCPUS];

static void wake(int sig) { (void)sig; }

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *vcpu(void *arg) {
  int n = (int)(long)arg;
  atomic_store(&tids[n], (int)syscall(SYS_gettid));
  while (!atomic_load(&leave[n])) {
    if (busy_pct <= 0) {
      pause();
      continue;
    }
    long long end = now_ns() + busy_pct * 100000LL; // PCT % of 10 ms
    while (now_ns() < end && !atomic_load(&leave[n])) {
    }
    struct timespec rest = {0, (100 - busy_pct) * 100000L};
    if (busy_pct < 100) nanosleep(&rest, NULL);
  }
  return NULL;
}

int main(int argc, char **argv) {
  int n = 1;
  for (int i = 1; i + 1 < argc; i++) {
    if (strcmp(argv[i], "-smp") == 0) n = atoi(argv[i + 1]);
    if (strcmp(argv[i], "-vsteal-busy") == 0) busy_pct = atoi(argv[i + 1]);
  }
  if (n < 1 || n > MAX_VCPUS) n = 1;
  if (busy_pct < 0) busy_pct = 0;
  if (busy_pct > 100) busy_pct = 100;

  // SIGUSR2 only interrupts pause()/nanosleep() of a thread asked to leave; SIGUSR1 is taken
  // by the main thread with sigwait, so every thread starts with it blocked.
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = wake;
  sigaction(SIGUSR2, &sa, NULL);
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, NULL);

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  for (int i = 0; i < n; i++) {
    if (pthread_create(&threads[i], &attr, vcpu, (void *)(long)i) != 0) {
      perror("pthread_create");
      return 1;
    }
    char name[16];
    snprintf(name, sizeof name, "CPU %d/KVM", i);
    pthread_setname_np(threads[i], name);
  }
  for (int i = 0; i < n; i++)
    while (atomic_load(&tids[i]) == 0) usleep(100);
  printf("%d\n", getpid());
  fflush(stdout);

  int last = n - 1;
  for (;;) {
    int sig;
    if (sigwait(&usr1, &sig) != 0) continue;
    if (last < 0) continue;
    atomic_store(&leave[last], 1);
    // Signal until it has left: a signal that lands between its check and pause() is lost.
    while (pthread_tryjoin_np(threads[last], NULL) != 0) {
      pthread_kill(threads[last], SIGUSR2);
      usleep(1000);
    }
    printf("exited %d %d\n", last, atomic_load(&tids[last]));
    fflush(stdout);
    last--;
  }
}
