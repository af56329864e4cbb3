// Hook-overhead load: open()+close() of the given files in a tight loop.
// usage: openloop ITERATIONS FILE... ; prints the mean ns per open+close.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s ITERATIONS FILE...\n", argv[0]);
    return 2;
  }
  long n = strtol(argv[1], NULL, 10);
  int nfiles = argc - 2;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) {
    int fd = open(argv[2 + (i % nfiles)], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      perror("open");
      return 1;
    }
    close(fd);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
  printf("%.1f\n", ns / n);
  return 0;
}
