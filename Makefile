# flowcpp build. `make` installs missing Debian packages (scripts/install_deps.sh),
# then builds the library and every program in apps/ (binaries beside their sources).
#   make test    build and run every test; the last line reads "N passed, M failed"
#   make check   the tests built with -fsanitize=address,undefined
#   make bench   benchmarks against PyTorch on this machine (see bench/RESULTS.md)
#   make fuzz    libFuzzer on every file loader, FUZZ_SECONDS each (default 60; needs clang-14)

BUILD    ?= build
# Parallel by default: one job per core, unless the caller chose (-jN or MAKEFLAGS).
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif
SANITIZE ?=
CXX      ?= g++
BLAS_DIR := /usr/lib/x86_64-linux-gnu/openblas-openmp
BLAS_INC := /usr/include/x86_64-linux-gnu/openblas-openmp

# x86-64-v3 (AVX2 + FMA) where the CPU and the compiler have it, else baseline x86-64.
ARCH ?= $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo 2>/dev/null && \
          $(CXX) -march=x86-64-v3 -E -x c++ /dev/null >/dev/null 2>&1 && echo -march=x86-64-v3 || echo -march=x86-64)
OPT      := -O2 $(ARCH) -fno-math-errno -fno-trapping-math
ifeq ($(SANITIZE),1)
# (GCC 12 warns falsely about std::regex internals, used by cxxopts, at -O1 with sanitizers.)
OPT      := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -Wno-maybe-uninitialized
endif

CXXFLAGS += -std=c++17 $(OPT) -fopenmp -Wall -Wextra -MMD -MP -I. -isystem $(BLAS_INC)
LDFLAGS  += -fopenmp $(if $(filter 1,$(SANITIZE)),-fsanitize=address$(,)undefined)
LDLIBS   += -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -lstb -lgif -lz -lpthread
, := ,

LIB_SRC  := $(wildcard engine/*.cpp engine/cpu/*.cpp engine/ops/*.cpp engine/cuda/*.cpp \
                       nn/*.cpp flow/*.cpp datasets/*.cpp viz/*.cpp apps/common/*.cpp)
TEST_SRC := $(wildcard tests/*.cpp)
# The fuzz targets and their seeds, replayed by tests/test_fuzz_regressions.cpp (issue 18).
TEST_SRC += fuzz/targets.cpp fuzz/seeds.cpp
APP_SRC  := $(wildcard apps/*.cpp)
BENCH_SRC:= $(wildcard bench/*.cpp)

LIB_OBJ  := $(LIB_SRC:%.cpp=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.cpp=$(BUILD)/%.o)
LIB      := $(BUILD)/libflowcpp.a
APPS     := $(APP_SRC:%.cpp=%)
BENCHES  := $(BENCH_SRC:bench/%.cpp=$(BUILD)/bench/%)
TEST_BIN := $(BUILD)/run_tests

.PHONY: all deps lib apps test check bench fuzz clean
# Keep the object files of the programs (make would delete them as intermediates).
.SECONDARY:
all: deps apps

deps:
	@bash scripts/install_deps.sh

lib: $(LIB)
apps: $(APPS)

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

apps/%: $(BUILD)/apps/%.o $(LIB)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(TEST_BIN): $(TEST_OBJ) $(LIB)
	$(CXX) $(LDFLAGS) $(TEST_OBJ) $(LIB) -o $@ $(LDLIBS)

# The test binary prints Catch2's report and then one line "N passed, M failed".
test: deps
	@$(MAKE) --no-print-directory $(TEST_BIN) $(APPS)
	@$(TEST_BIN)

check: deps apps
	@$(MAKE) --no-print-directory BUILD=build/sanitize SANITIZE=1 build/sanitize/run_tests
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 build/sanitize/run_tests

bench: deps
	@bash scripts/install_deps.sh --bench
	@$(MAKE) --no-print-directory $(BENCHES)
	@bash bench/run.sh

# Coverage-guided fuzzing of the loaders (fuzz/, built by fuzz/fuzz.mk with clang-14).
FUZZ_SECONDS ?= 60
fuzz:
	@bash scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf build $(APPS)

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(APP_SRC:%.cpp=$(BUILD)/%.d) $(BENCH_SRC:%.cpp=$(BUILD)/%.d)
