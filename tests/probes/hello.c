/* A small ELF that lives in the probe tree: prints its arguments and, with --read FILE,
 * the length and a checksum of FILE, so an exec from a projection can be compared; with
 * --exe, where /proc/self/exe says it runs from ("@" for the working directory). */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef WITH_PLUG
/* hello-dyn: linked against libplug.so, found through RUNPATH $ORIGIN/../lib */
const char *plug_id(void);
#endif

int main(int argc, char **argv) {
  printf("hello argc=%d", argc);
  for (int i = 0; i < argc; i++) {
    printf(" [%s]", argv[i]);
  }
  printf("\n");
#ifdef WITH_PLUG
  printf("linked plug: %s\n", plug_id());
#endif
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--exe") == 0) {
      char exe[PATH_MAX], cwd[PATH_MAX];
      ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
      exe[n > 0 ? n : 0] = 0;
      size_t len = getcwd(cwd, sizeof cwd) ? strlen(cwd) : 0;
      if (len > 0 && strncmp(exe, cwd, len) == 0 && exe[len] == '/') {
        printf("exe=@%s\n", exe + len);
      } else {
        printf("exe=%s\n", exe);
      }
    }
  }
  for (int i = 1; i + 1 < argc; i++) {
    if (strcmp(argv[i], "--read") == 0) {
      FILE *f = fopen(argv[i + 1], "r");
      if (!f) {
        perror(argv[i + 1]);
        return 3;
      }
      unsigned long sum = 0, len = 0;
      int c;
      while ((c = getc(f)) != EOF) {
        sum = sum * 31 + (unsigned char)c;
        len++;
      }
      fclose(f);
      printf("read %s: len=%lu sum=%lu\n", argv[i + 1], len, sum);
    }
  }
  return 0;
}
