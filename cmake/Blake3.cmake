# BLAKE3's official C implementation, compiled from the sources Debian ships in
# librust-blake3-dev. All x86-64 SIMD variants are built as assembly and chosen at
# run time by blake3_dispatch.c (SSE2, SSE4.1, AVX2, AVX-512).
file(GLOB VRIFT_BLAKE3_DIRS LIST_DIRECTORIES true /usr/share/cargo/registry/blake3-*/c)
list(SORT VRIFT_BLAKE3_DIRS COMPARE NATURAL ORDER DESCENDING)
list(GET VRIFT_BLAKE3_DIRS 0 BLAKE3_C_DIR)
if(NOT EXISTS "${BLAKE3_C_DIR}/blake3.h")
  message(FATAL_ERROR "BLAKE3 C sources not found: install librust-blake3-dev (scripts/setup)")
endif()
message(STATUS "BLAKE3 C sources: ${BLAKE3_C_DIR}")

add_library(vrift_blake3 STATIC
  ${BLAKE3_C_DIR}/blake3.c
  ${BLAKE3_C_DIR}/blake3_dispatch.c
  ${BLAKE3_C_DIR}/blake3_portable.c
  ${BLAKE3_C_DIR}/blake3_sse2_x86-64_unix.S
  ${BLAKE3_C_DIR}/blake3_sse41_x86-64_unix.S
  ${BLAKE3_C_DIR}/blake3_avx2_x86-64_unix.S
  ${BLAKE3_C_DIR}/blake3_avx512_x86-64_unix.S)
target_include_directories(vrift_blake3 SYSTEM PUBLIC ${BLAKE3_C_DIR})
# The shim links this: keep its symbols out of the shim's export list.
target_compile_options(vrift_blake3 PRIVATE -O3 -fvisibility=hidden)
set_target_properties(vrift_blake3 PROPERTIES C_VISIBILITY_PRESET hidden)
