// The baseline: sweep every thread's schedstat of a process by open/read/close, as a simple
// C collector would. Usage: openread PID ITERATIONS   -> prints median µs per sweep and per thread.
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: openread PID ITERATIONS\n"); return 2; }
  char dir[64];
  snprintf(dir, sizeof dir, "/proc/%s/task", argv[1]);
  int iters = atoi(argv[2]);
  DIR *d = opendir(dir);
  if (!d) { perror(dir); return 1; }
  int cap = 1024, n = 0;
  char **paths = malloc(cap * sizeof *paths);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) paths = realloc(paths, (cap *= 2) * sizeof *paths);
    paths[n] = malloc(96);
    snprintf(paths[n++], 96, "%s/%s/schedstat", dir, e->d_name);
  }
  closedir(d);
  double *t = malloc(iters * sizeof *t);
  char buf[128];
  unsigned long long sink = 0;
  for (int i = 0; i < iters; i++) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int j = 0; j < n; j++) {
      int fd = open(paths[j], O_RDONLY);
      if (fd < 0) continue;
      ssize_t r = read(fd, buf, sizeof buf - 1);
      if (r > 0) { buf[r] = 0; sink += strtoull(buf, NULL, 10); }
      close(fd);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    t[i] = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
  }
  qsort(t, iters, sizeof *t, cmp);
  printf("{\"threads\": %d, \"sweep_us_median\": %.1f, \"per_thread_us\": %.3f, \"sink\": %llu}\n", n, t[iters / 2], t[iters / 2] / n, sink % 10);
  return 0;
}
