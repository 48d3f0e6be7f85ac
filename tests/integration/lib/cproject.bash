# make_cproject DIR N: a C project of N sources in three groups (one header per group,
# one shared header) with a Makefile that tracks header dependencies (-MMD), in DIR.
make_cproject() {
  local d=$1 n=$2
  mkdir -p "$d/src" "$d/include"
  printf '#pragma once\n#define SHARED 3\n' > "$d/include/common.h"
  for g in 0 1 2; do printf '#pragma once\n#include "common.h"\n#define GROUP%s (%s * SHARED)\n' "$g" "$g" > "$d/include/g$g.h"; done
  local calls="" decls=""
  for i in $(seq 1 "$n"); do
    local g=$((i % 3))
    printf '#include "g%s.h"\nint f%s(void) { return %s + GROUP%s; }\n' "$g" "$i" "$i" "$g" > "$d/src/u$i.c"
    calls="$calls s += f$i();"
    decls="${decls}int f$i(void);"
  done
  printf '#include <stdio.h>\n%s\nint main(void) { int s = 0;%s printf("sum %%d\\n", s); return 0; }\n' \
    "$decls" "$calls" > "$d/src/main.c"
  cat > "$d/Makefile" <<'MK'
SRCS := $(wildcard src/*.c)
OBJS := $(SRCS:src/%.c=obj/%.o)
CFLAGS := -O1 -Iinclude -MMD -MP
app: $(OBJS)
	cc -o $@ $(OBJS)
obj/%.o: src/%.c | obj
	cc $(CFLAGS) -c -o $@ $<
obj:
	mkdir -p obj
clean:
	rm -rf obj app
-include $(OBJS:.o=.d)
.PHONY: clean
MK
}
