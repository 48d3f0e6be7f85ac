/* libvrift_shim.so: the LD_PRELOAD side of vrift. Until it interposes anything, loading
 * it changes nothing: every call reaches libc unchanged. */
__attribute__((visibility("default"))) const char vrift_shim_version[] = "0.1.0";
