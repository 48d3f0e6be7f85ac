# vrift_first_party(TARGET [SHIM_SAFE])
# Applies the project's warnings and sanitizer flags to a first-party target.
# SHIM_SAFE targets are linked into libvrift_shim.so: no exceptions, no RTTI.
set(VRIFT_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
    -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough
    # GCC 12 reports false -Wrestrict positives inside std::string at -O2 and above.
    -Wno-restrict)

function(vrift_first_party target)
  cmake_parse_arguments(ARG "SHIM_SAFE" "" "" ${ARGN})
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${VRIFT_WARNINGS}>)
  if(VRIFT_WERROR)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
  endif()
  if(ARG_SHIM_SAFE)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-fno-exceptions -fno-rtti>)
  endif()
endfunction()

if(VRIFT_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()
