# The libFuzzer build (clang-14, AddressSanitizer + UndefinedBehaviorSanitizer), kept
# apart from the g++ build: objects in build/fuzz, one binary per target. Driven by
# scripts/fuzz.sh (`make fuzz`); `make -f fuzz/fuzz.mk` alone builds the targets.
FUZZ_BUILD ?= build/fuzz
FUZZ_CXX   ?= clang++-14
BLAS_DIR   := /usr/lib/x86_64-linux-gnu/openblas-openmp
BLAS_INC   := /usr/include/x86_64-linux-gnu/openblas-openmp

# -fopenmp=libgomp: the same OpenMP runtime as OpenBLAS (clang then runs the loops
# serially, which is what a fuzzer wants anyway: one thread per process).
SAN        := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_FLAGS := -std=c++17 -O1 -g $(SAN) -fopenmp=libgomp -Wall -Wno-unknown-pragmas -MMD -MP -I. -isystem $(BLAS_INC)
FUZZ_LIBS  := -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -lgomp -lstb -lgif -lz -lcurl -lpthread

# engine/comm/single.cpp: the one-rank process group (a fuzzer is one process).
LIB_SRC    := $(wildcard engine/*.cpp engine/cpu/*.cpp engine/ops/*.cpp engine/cuda/*.cpp \
                         nn/*.cpp flow/*.cpp datasets/*.cpp viz/*.cpp apps/cli/*.cpp apps/train/*.cpp apps/flow2d/*.cpp apps/image/*.cpp) \
              engine/comm/single.cpp fuzz/targets.cpp fuzz/seeds.cpp
LIB_OBJ    := $(LIB_SRC:%.cpp=$(FUZZ_BUILD)/%.o)
FUZZ_LIB   := $(FUZZ_BUILD)/libflowcpp_fuzz.a
TARGETS    := $(shell sed -n 's/^ *FUZZ_TARGET(\([a-z0-9_]*\)).*/\1/p' fuzz/targets.cpp)
BINS       := $(TARGETS:%=$(FUZZ_BUILD)/fuzz_%) $(FUZZ_BUILD)/make_seeds

# No built-in rules (they would try to remake the .d files), and keep the objects.
MAKEFLAGS += -r
.SECONDARY:
.PHONY: all targets
all: $(BINS)
targets:
	@echo $(TARGETS)

$(FUZZ_LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# Library objects get coverage instrumentation; the fuzzer's main comes in at link time.
$(FUZZ_BUILD)/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

# stb_image 2.27 shifts a 0 by 32 bits or more once a JPEG's scan meets a marker in the
# middle of a block (stbi__grow_buffer_unsafe; finding 12 of bench/RESULTS.md, stb's own
# bug): UBSan's shift-exponent check is left out of that one file so that the fuzzers
# look past it.
$(FUZZ_BUILD)/datasets/stb_image_zeroed.o: FUZZ_FLAGS += -fno-sanitize=shift-exponent
# Zeroed locals there, as in the Makefile (clang 14 wants the long flag to allow it).
$(FUZZ_BUILD)/datasets/stb_image_zeroed.o: FUZZ_FLAGS += -ftrivial-auto-var-init=zero \
  -enable-trivial-auto-var-init-zero-knowing-it-will-be-removed-from-clang

# One binary per target: the same driver, told its target by a macro.
$(FUZZ_BUILD)/driver_%.o: fuzz/driver.cpp
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -DFUZZ_TARGET_NAME='"$*"' -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/driver_%.o $(FUZZ_LIB)
	$(FUZZ_CXX) $(SAN) -fsanitize=fuzzer $^ -o $@ $(FUZZ_LIBS)

$(FUZZ_BUILD)/make_seeds: $(FUZZ_BUILD)/fuzz/make_seeds.o $(FUZZ_LIB)
	$(FUZZ_CXX) $(SAN) $^ -o $@ $(FUZZ_LIBS)

-include $(LIB_OBJ:.o=.d) $(FUZZ_BUILD)/fuzz/make_seeds.d $(TARGETS:%=$(FUZZ_BUILD)/driver_%.d)
