#pragma once
// Marks a wrapper as part of the shim's exported table (everything else is hidden).
#define VRIFT_EXPORT extern "C" __attribute__((visibility("default")))
