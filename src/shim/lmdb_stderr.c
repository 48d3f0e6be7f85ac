// Debian's liblmdb.a is built as position-independent executable code: it reads
// `stderr` (in its assertion message) as if the variable were in the same module, which a
// shared object cannot arrange with libc's. This hidden `stderr` satisfies that reference
// inside the shim and points at libc's standard error stream. No header is included, so
// the differing declaration in <stdio.h> is never seen.
extern char _IO_2_1_stderr_[];
__attribute__((visibility("hidden"))) void* stderr = _IO_2_1_stderr_;
