#pragma once
// vrift itself never runs under the shim. Inside an interactive session the shell
// exports LD_PRELOAD, so every vrift command typed there (status, ingest, wake, a mode
// switch) would start with the shim loaded, and the shim would show vrift a projected
// view: phantom files that are not on disk, Tier-1 links that look like plain files,
// and deletions turned into whiteouts. vrift must see and change the real tree, so it
// starts over without the shim. It keeps VRIFT_PROJECT and the rest, which tell it it
// is in a session and which `vrift run` uses to put the shim back for its command.

namespace vrift::cli {

// When LD_PRELOAD names the shim, executes this program again with the same arguments
// and LD_PRELOAD without the shim; returns only when there is nothing to do or the
// exec failed (then vrift goes on under the shim rather than not at all).
void leave_shim(char** argv) noexcept;

}  // namespace vrift::cli
