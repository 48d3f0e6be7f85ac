/* A shared object that lives in the probe tree. Its constructor counts, so two dlopen()s
 * of two copies at different paths show whether the loader kept them apart. */
#include <stdio.h>

static int ctor_runs;
static int calls;

__attribute__((constructor)) static void plug_init(void) { ctor_runs++; }

const char *plug_id(void) {
  static char buf[64];
  snprintf(buf, sizeof buf, "plug-v1 ctor=%d", ctor_runs);
  return buf;
}

int plug_counter(void) { return ++calls; }
