# Every dependency comes from a Debian package (scripts/setup installs them).
find_package(PkgConfig REQUIRED)
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)
find_package(tl-expected REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(Threads REQUIRED)
if(VRIFT_TESTS)
  find_package(GTest REQUIRED)
endif()
if(VRIFT_BENCH)
  find_package(benchmark REQUIRED)
endif()

# The shim carries LMDB inside it when Debian's static archive is there: every program in
# a session then loads one library instead of three (liblmdb and the libpthread it names),
# and a program with its own LMDB can never bind to ours or we to its.
find_library(VRIFT_LMDB_ARCHIVE NAMES liblmdb.a)
