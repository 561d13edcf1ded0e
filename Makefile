# c1m - build every NN_*/server and NN_*/client in place.
#
#   make              build (quiet; V=1 shows the commands)
#   make test         build, then run tests/run.sh (ends "N passed, N failed")
#   make SAN=1 test   the same under ASan + UBSan
#   make SAN=thread test   ThreadSanitizer
#   make clean
#
# Objects go to build/<variant>/, so switching SAN rebuilds what it must.

CC      ?= gcc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -pthread -Icommon
LDFLAGS += -pthread
LDLIBS  += -lm

VARIANT := plain
ifeq ($(SAN),1)
VARIANT := asan
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
else ifeq ($(SAN),thread)
VARIANT := tsan
CFLAGS  += -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS += -fsanitize=thread
else ifneq ($(SAN),)
$(error SAN must be 1 (ASan+UBSan) or thread (TSan), not '$(SAN)')
endif

Q := @
ifeq ($(V),1)
Q :=
endif

OBJ      := build/$(VARIANT)
COMMON   := $(patsubst common/%.c,$(OBJ)/common/%.o,$(wildcard common/*.c))
LIB      := $(OBJ)/libc1m.a
DIRS     := $(sort $(wildcard [0-9][0-9]_*))
PROGS    := $(foreach d,$(DIRS),$(patsubst %.c,%,$(wildcard $(d)/server.c $(d)/client.c)))
UNITS    := $(patsubst tests/unit/%.c,$(OBJ)/tests/%,$(wildcard tests/unit/*.c))
TOOLS    := $(patsubst tests/tools/%.c,$(OBJ)/tests/%,$(wildcard tests/tools/*.c))
# The bare epoll pair compare measures against (no common/, no histogram).
BASELINE := scripts/baseline_pair
STAMP    := $(OBJ)/.variant
# which variant the in-place binaries were last linked as
LINKED   := build/.linked

.PHONY: all test clean units
all: $(PROGS) $(UNITS) $(TOOLS) $(BASELINE)
units: $(UNITS)

# The binaries live beside their source, so record which variant built them
# and relink when it changes.
$(STAMP): FORCE
	@mkdir -p $(@D)
	@echo "$(VARIANT) $(CC) $(CFLAGS)" | cmp -s - $@ 2>/dev/null || \
		echo "$(VARIANT) $(CC) $(CFLAGS)" > $@
.PHONY: FORCE
FORCE:

# The binaries sit beside their sources whatever the variant, so relink
# them all when the variant last linked there changes.
$(LINKED): FORCE
	@mkdir -p $(@D)
	@echo "$(VARIANT)" | cmp -s - $@ 2>/dev/null || echo "$(VARIANT)" > $@

$(OBJ)/%.o: %.c $(STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(COMMON)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

# A design's own helper sources (14_io_uring/uring.c) link into both its
# programs: every .c in the directory but server.c, client.c and the client
# engine. The engine (05_multi_epoll_client/engine.c) links into every
# client but 04's, which is its own single-loop lesson.
ENGINE   := 05_multi_epoll_client/engine.c
helpers = $(patsubst %.c,$(OBJ)/%.o,$(filter-out $(1)/server.c $(1)/client.c $(ENGINE),$(wildcard $(1)/*.c)))
engine = $(if $(filter %/client,$(1)),$(if $(filter 04_%,$(1)),,$(OBJ)/$(ENGINE:.c=.o)))
.SECONDEXPANSION:
$(PROGS): %: $(OBJ)/%.o $$(call helpers,$$(@D)) $$(call engine,$$@) $(LIB) $(LINKED)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(LDLIBS)

# Beside its source like the designs' programs; ./run.sh compare runs it.
$(BASELINE): $(OBJ)/scripts/baseline_pair.o $(LINKED)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^)

$(OBJ)/tests/%: $(OBJ)/tests/unit/%.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# Test servers (tests/tools/*.c): built like the unit tests, run by tests/*.sh.
$(TOOLS): $(OBJ)/tests/%: $(OBJ)/tests/tools/%.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

test: all
	$(Q)UNIT_DIR=$(OBJ)/tests SAN=$(SAN) tests/run.sh $(T)

clean:
	rm -rf build $(PROGS) $(BASELINE)

-include $(shell find build -name '*.d' 2>/dev/null)
