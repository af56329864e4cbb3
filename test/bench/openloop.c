// Hook-overhead load: open()+close() of the given files in a tight loop.
// usage: openloop [-c] ITERATIONS FILE... ; prints the mean ns per open+close:
// wall-clock time, or with -c the thread's own CPU time (user + kernel, the
// syscalls and any BPF program they run included), which leaves out the time
// other work on a busy machine held the CPU.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  clockid_t clock = CLOCK_MONOTONIC;
  if (argc > 1 && strcmp(argv[1], "-c") == 0) {
    clock = CLOCK_THREAD_CPUTIME_ID;
    argv++;
    argc--;
  }
  if (argc < 3) {
    fprintf(stderr, "usage: %s [-c] ITERATIONS FILE...\n", argv[0]);
    return 2;
  }
  long n = strtol(argv[1], NULL, 10);
  int nfiles = argc - 2;
  struct timespec a, b;
  clock_gettime(clock, &a);
  for (long i = 0; i < n; i++) {
    int fd = open(argv[2 + (i % nfiles)], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      perror("open");
      return 1;
    }
    close(fd);
  }
  clock_gettime(clock, &b);
  double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
  printf("%.1f\n", ns / n);
  return 0;
}
