# flowcpp build. `make` installs missing Debian packages (scripts/install_deps.sh),
# then builds the library and every program in apps/ (binaries beside their sources).
#   make test    build and run every test; the last line reads "N passed, M failed"
#   make check   the tests built with -fsanitize=address,undefined (but those that run the programs),
#                and the CUDA suite with the emulated device's memcheck, racecheck, initcheck
#   make bench   benchmarks against PyTorch on this machine (see bench/RESULTS.md)
#   make install   libflowcpp.a, the headers under include/flowcpp/ and flowcpp.pc into
#                  $(DESTDIR)$(PREFIX) (PREFIX=/usr/local); make uninstall removes them
#   make fuzz    libFuzzer on every file loader, FUZZ_SECONDS each (default 60; needs clang-14)

BUILD    ?= build
# Parallel by default: one job per core, unless the caller chose (-jN or MAKEFLAGS);
# a sub-make shares its parent's jobs.
ifeq ($(MAKELEVEL)$(filter -j%,$(MAKEFLAGS)),0)
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
# -g1: line tables only, which is what the sanitizers' stack traces print; full -g made
# this build a third slower (test_safetensors.o: 30.6 s with -g, 20.3 s with -g1).
OPT      := -O1 -g1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -Wno-maybe-uninitialized
# FC_SANITIZE: the few tests that run a whole UNet on the emulated device skip here (and
# say so); make test runs them.
OPT      += -DFC_SANITIZE
endif

CXXFLAGS += -std=c++17 $(OPT) -fopenmp -Wall -Wextra -MMD -MP -I. -isystem $(BLAS_INC)
LDFLAGS  += -fopenmp $(if $(filter 1,$(SANITIZE)),-fsanitize=address$(,)undefined)
LDLIBS   += -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -lstb -lgif -lz -lcurl -lpthread
, := ,

LIB_SRC  := $(wildcard engine/*.cpp engine/cpu/*.cpp engine/ops/*.cpp \
                       nn/*.cpp flow/*.cpp datasets/*.cpp viz/*.cpp apps/cli/*.cpp apps/train/*.cpp apps/flow2d/*.cpp apps/image/*.cpp)
TEST_SRC := $(wildcard tests/*.cpp)
# The fuzz targets and their seeds, replayed by tests/test_fuzz_regressions.cpp (issue 18).
TEST_SRC += fuzz/targets.cpp fuzz/seeds.cpp
# The test files whose every case runs the programs: make check's sanitizer build, which
# leaves those cases to make test, does not compile them (a minute of CI's 30);
# scripts/check.sh fails if one of them gains a case of another kind.
PROGRAM_ONLY_TESTS := tests/test_cuda_apps.cpp tests/test_examples.cpp tests/test_image_guidance.cpp \
                      tests/test_image_reflow.cpp tests/test_objective_checks.cpp tests/test_reflow2d.cpp
ifeq ($(SANITIZE),1)
TEST_SRC := $(filter-out $(PROGRAM_ONLY_TESTS),$(TEST_SRC))
endif
APP_SRC  := $(wildcard apps/*.cpp)
BENCH_SRC:= $(wildcard bench/*.cpp)

# --- MPI (data-parallel training under mpirun, engine/dist.hpp) ---------------------
# MPI=1 links Open MPI (found with pkg-config), MPI=0 builds the one-rank comm layer
# instead; the default is 1 where Open MPI is installed. Build the two into different
# BUILD folders (make MPI=0 BUILD=build/nompi).
MPI ?= $(shell pkg-config --exists ompi-c 2>/dev/null && echo 1 || echo 0)
ifeq ($(MPI),1)
LIB_SRC  += engine/comm/mpi.cpp
LDLIBS   += $(shell pkg-config --libs ompi-c)
$(BUILD)/engine/comm/mpi.o: CXXFLAGS += $(shell pkg-config --cflags ompi-c)
else
LIB_SRC  += engine/comm/single.cpp
endif
# --- end MPI ---------------------------------------------------------------------------

LIB_OBJ  := $(LIB_SRC:%.cpp=$(BUILD)/%.o)
# stb_image reads some stack arrays it never filled (a BMP's palette past the entries
# the file has: finding 7 of bench/RESULTS.md); compiled with zeroed locals, its output
# depends on the file alone (datasets/stb_image_zeroed.hpp).
$(BUILD)/datasets/stb_image_zeroed.o: CXXFLAGS += -ftrivial-auto-var-init=zero
TEST_OBJ := $(TEST_SRC:%.cpp=$(BUILD)/%.o)
LIB      := $(BUILD)/libflowcpp.a
APPS     := $(APP_SRC:%.cpp=%)
BENCHES  := $(BENCH_SRC:bench/%.cpp=$(BUILD)/bench/%)
TEST_BIN := $(BUILD)/run_tests

# ---- CUDA backend (engine/cuda; docs/cuda.md). The library leaves it out; each
# program links one variant of it:
#   CUDA=auto (default)  the real backend, engine/cuda/*.cu built by nvcc, when the
#                        toolkit is found (/usr/local/cuda, or nvcc on PATH); else CPU-only
#   CUDA=0               CPU-only: engine/cuda/no_cuda.cpp (an empty CUDA kernel table)
#   CUDA=emulate         the same .cu sources built by g++ on the emulated device
#                        (engine/cuda/emu): the programs run "on CUDA" without a GPU
# The test binary always links the emulated backend (the [cuda] tests run on it); with
# nvcc, build/run_tests_gpu links the real one, and make test runs its [cuda] tests
# when a GPU is present.
.DEFAULT_GOAL := all
CUDA      ?= auto
CUDA_HOME ?= $(or $(if $(wildcard /usr/local/cuda/bin/nvcc),/usr/local/cuda),$(patsubst %/bin/nvcc,%,$(shell command -v nvcc 2>/dev/null)))
NVCC      := $(CUDA_HOME)/bin/nvcc
HAVE_NVCC := $(if $(CUDA_HOME),$(wildcard $(NVCC)))
# sm_90 (H100/H200) native code plus compute_90 PTX, which newer GPUs compile at load.
NVCCFLAGS ?= -std=c++17 -O2 -I. -MMD -MP -gencode arch=compute_90,code=sm_90 \
             -gencode arch=compute_90,code=compute_90 -Xcompiler -Wall
CU_SRC         := $(wildcard engine/cuda/*.cu)
CUDA_REAL_OBJ  := $(CU_SRC:%.cu=$(BUILD)/nvcc/%.o)
EMU_RUNTIME    := $(BUILD)/emu/engine/cuda/emu/cuda_emu.o $(BUILD)/emu/engine/cuda/emu/nccl_emu.o $(BUILD)/emu/engine/cuda/emu/device_queue.o
CUDA_EMU_OBJ   := $(CU_SRC:%.cu=$(BUILD)/emu/%.o) $(EMU_RUNTIME) $(BUILD)/emu/engine/cuda/emu/hazards.o
CUDA_NONE_OBJ  := $(BUILD)/engine/cuda/no_cuda.o
# The runtime loads the driver with dlopen: the programs start where there is no GPU.
CUDA_REAL_LIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart
# NCCL (in the toolkit here) carries GPU ranks' gradients under mpirun (engine/cuda/comm.cu);
# without it (NCCL=0, or not found) they go through host memory and MPI.
NCCL ?= $(if $(and $(CUDA_HOME),$(wildcard $(CUDA_HOME)/include/nccl.h),$(wildcard $(CUDA_HOME)/lib64/libnccl.so)),1,0)
ifeq ($(NCCL),1)
NVCCFLAGS += -DFC_HAVE_NCCL
CUDA_REAL_LIBS += -lnccl
endif
ifeq ($(CUDA),emulate)
CUDA_VARIANT := emulate
CUDA_OBJ := $(CUDA_EMU_OBJ)
else ifeq ($(CUDA)$(if $(HAVE_NVCC),yes),autoyes)
CUDA_VARIANT := nvcc
CUDA_OBJ := $(CUDA_REAL_OBJ)
CUDA_LIBS := $(CUDA_REAL_LIBS)
else
CUDA_VARIANT := none
CUDA_OBJ := $(CUDA_NONE_OBJ)
endif
# Holds the variant, rewritten (so newer) when it changes: switching CUDA= relinks the
# programs.
CUDA_STAMP := $(BUILD)/cuda-variant
$(shell mkdir -p $(BUILD) && [ "$$(cat $(CUDA_STAMP) 2>/dev/null)" = "$(CUDA_VARIANT)" ] || echo $(CUDA_VARIANT) > $(CUDA_STAMP))

# ptxas reports each kernel's registers, spills and shared memory as it compiles it:
# kept beside the object (X.o.ptxas) for the resource test (tests/test_cuda_resources.cpp)
# and bench/kernel_resources.md; anything else it says (warnings) goes on to stderr.
$(BUILD)/nvcc/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -Xptxas -v -c $< -o $@ 2> $@.ptxas || { cat $@.ptxas >&2; exit 1; }
	@grep -v -e '^ptxas info' -e '^    [0-9]* bytes stack frame' $@.ptxas >&2 || true

$(BUILD)/emu/%.o: %.cu
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -x c++ -c $< -o $@

$(BUILD)/emu/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

# racecheck and initcheck (engine/cuda/emu/hazards.cpp): the same kernels compiled with
# GCC's ThreadSanitizer instrumentation, its entry points defined by hazards.cpp built
# with FC_EMU_HAZARDS (no ThreadSanitizer runtime is linked), and the kernels the tests
# plant bugs in (tests/*.cu). build/run_tests_hazards is the test binary with these;
# make check runs its [cuda] tests. (The planted kernels are in build/run_tests too,
# uninstrumented: there the tests that need the checks say they skip.)
TEST_CU          := $(wildcard tests/*.cu)
TEST_CU_OBJ      := $(TEST_CU:%.cu=$(BUILD)/emu/%.o)
# (UBSan too: it needs only its own small runtime, which the link below adds.)
HAZARD_FLAGS     := -fsanitize=thread,undefined -fno-sanitize-recover=undefined --param=tsan-instrument-func-entry-exit=0
CUDA_HAZARD_OBJ  := $(CU_SRC:%.cu=$(BUILD)/hazards/%.o) $(EMU_RUNTIME) $(BUILD)/hazards/engine/cuda/emu/hazards.o
TEST_CU_HAZARD_OBJ := $(TEST_CU:%.cu=$(BUILD)/hazards/%.o)
$(BUILD)/hazards/%.o: %.cu
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(HAZARD_FLAGS) -x c++ -c $< -o $@
$(BUILD)/hazards/engine/cuda/emu/hazards.o: engine/cuda/emu/hazards.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -DFC_EMU_HAZARDS -c $< -o $@
TEST_BIN_HAZARDS := $(BUILD)/run_tests_hazards
$(TEST_BIN_HAZARDS): $(TEST_OBJ) $(LIB) $(CUDA_HAZARD_OBJ) $(TEST_CU_HAZARD_OBJ)
	$(CXX) $(LDFLAGS) -fsanitize=undefined $(TEST_OBJ) $(LIB) $(CUDA_HAZARD_OBJ) $(TEST_CU_HAZARD_OBJ) -o $@ $(LDLIBS)
# The programs with the checks, for the [cuda][apps] tests (FC_EMULATED_DIR), and the
# bench programs so, whose traffic log bench/roofline.py reads (FC_EMU_TRAFFIC).
$(BUILD)/hazards/emulated/bench/%: $(BUILD)/bench/%.o $(LIB) $(CUDA_HAZARD_OBJ)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -fsanitize=undefined $(filter %.o %.a,$^) -o $@ $(LDLIBS)
$(BUILD)/hazards/emulated/%: $(BUILD)/apps/%.o $(LIB) $(CUDA_HAZARD_OBJ)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -fsanitize=undefined $(filter %.o %.a,$^) -o $@ $(LDLIBS)

# The resource test reads NVIDIA's occupancy calculator (cuda_occupancy.h) from the toolkit.
$(BUILD)/tests/test_cuda_resources.o: CXXFLAGS += $(if $(CUDA_HOME),-isystem $(CUDA_HOME)/include)

# The same tests on the real backend, less the emulator's own (tests/test_cuda_emu.cpp, and
# tests/test_cuda_resources.cpp, test_cuda_schedules.cpp and test_cuda_hazards.cpp, which
# ask the emulator for launch records, thread orders, asynchronous streams and its checks).
TEST_BIN_GPU := $(BUILD)/run_tests_gpu
TEST_OBJ_GPU := $(filter-out $(BUILD)/tests/test_cuda_emu.o $(BUILD)/tests/test_cuda_resources.o \
                            $(BUILD)/tests/test_cuda_schedules.o $(BUILD)/tests/test_cuda_hazards.o,$(TEST_OBJ))
$(TEST_BIN_GPU): $(TEST_OBJ_GPU) $(LIB) $(CUDA_REAL_OBJ)
	$(CXX) $(LDFLAGS) $(TEST_OBJ_GPU) $(LIB) $(CUDA_REAL_OBJ) -o $@ $(LDLIBS) $(CUDA_REAL_LIBS)

# With the nvcc build: the real backend's [cuda] tests on a GPU, or, without one, the
# check that CUDA on this machine fails with one line "no CUDA device: ...".
cuda-test-gpu:
ifeq ($(CUDA_VARIANT),nvcc)
	@$(MAKE) --no-print-directory $(TEST_BIN_GPU)
	@if nvidia-smi -L >/dev/null 2>&1; then \
	  echo "CUDA tests on the GPU (build/run_tests_gpu [cuda]):"; $(TEST_BIN_GPU) "[cuda]"; \
	else \
	  echo "CUDA tests on a real GPU: skipped (no GPU found by nvidia-smi); running the no-device check"; \
	  $(TEST_BIN_GPU) "[cuda-nodevice]"; fi
else
	@echo "CUDA tests on a real GPU: skipped (no nvcc build: CUDA=$(CUDA), nvcc $(if $(HAVE_NVCC),found,not found))"
endif
.PHONY: cuda-test-gpu
# The programs on the emulated device whatever CUDA= says (their objects linked with
# engine/cuda/emu, which the test binary has built already): make test runs
# build/emulated/cfm2d --device cuda against apps/cfm2d on the CPU (tests/test_cuda_apps.cpp).
EMU_APPS := $(APP_SRC:apps/%.cpp=$(BUILD)/emulated/%)
$(BUILD)/emulated/%: $(BUILD)/apps/%.o $(LIB) $(CUDA_EMU_OBJ)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $(filter %.o %.a,$^) -o $@ $(LDLIBS)
# The same for the bench programs (bench/gpu.sh --emulated).
$(BUILD)/emulated/bench/%: $(BUILD)/bench/%.o $(LIB) $(CUDA_EMU_OBJ)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $(filter %.o %.a,$^) -o $@ $(LDLIBS)
# ---- end of the CUDA backend block

.PHONY: all deps lib apps examples test check bench fuzz clean install uninstall
# Keep the object files of the programs (make would delete them as intermediates).
.SECONDARY:
# (apps in a second make: it sees what deps installed, Open MPI among it)
all: deps
	@$(MAKE) --no-print-directory apps

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

apps/%: $(BUILD)/apps/%.o $(LIB) $(CUDA_OBJ) $(CUDA_STAMP)
	$(CXX) $(LDFLAGS) $(filter %.o %.a,$^) -o $@ $(LDLIBS) $(CUDA_LIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB) $(CUDA_OBJ) $(CUDA_STAMP)
	$(CXX) $(LDFLAGS) $(filter %.o %.a,$^) -o $@ $(LDLIBS) $(CUDA_LIBS)

$(TEST_BIN): $(TEST_OBJ) $(LIB) $(CUDA_EMU_OBJ) $(TEST_CU_OBJ)
	$(CXX) $(LDFLAGS) $(TEST_OBJ) $(LIB) $(CUDA_EMU_OBJ) $(TEST_CU_OBJ) -o $@ $(LDLIBS)

# ---- flowcpp as a library: make install / uninstall, and the examples built against it
PREFIX     ?= /usr/local
LIBDIR     := $(PREFIX)/lib
INCLUDEDIR := $(PREFIX)/include/flowcpp
# The public headers keep their paths (include/flowcpp/engine/tensor.hpp), so a program
# includes "engine/tensor.hpp" as the apps do; the backends' own headers stay private.
PUBLIC_HDR := $(wildcard engine/*.hpp nn/*.hpp flow/*.hpp datasets/*.hpp viz/*.hpp apps/cli/*.hpp apps/train/*.hpp apps/flow2d/*.hpp apps/image/*.hpp)
# The link flags of everything libflowcpp.a uses, in pkg-config's form.
PC_LIBS    := -L$${libdir} -lflowcpp -fopenmp $(LDLIBS) $(CUDA_LIBS)
# The installed archive is the library plus this build's CUDA variant (real, emulated or
# none), which the programs link beside build/libflowcpp.a.
INSTALL_LIB := $(BUILD)/install/libflowcpp.a
$(INSTALL_LIB): $(LIB_OBJ) $(CUDA_OBJ) $(CUDA_STAMP)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $(filter %.o,$^)

install: $(INSTALL_LIB)
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 644 $(INSTALL_LIB) $(DESTDIR)$(LIBDIR)/libflowcpp.a
	for h in $(PUBLIC_HDR); do install -D -m 644 $$h $(DESTDIR)$(INCLUDEDIR)/$$h || exit 1; done
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include/flowcpp' '' \
	  'Name: flowcpp' 'Description: flow matching on a from-scratch C++ deep learning engine' \
	  'Version: 0.1.0' 'Cflags: -I$${includedir} -fopenmp' 'Libs: $(PC_LIBS)' \
	  > $(DESTDIR)$(LIBDIR)/pkgconfig/flowcpp.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libflowcpp.a $(DESTDIR)$(LIBDIR)/pkgconfig/flowcpp.pc
	rm -rf $(DESTDIR)$(INCLUDEDIR)

# make test builds examples/*.cpp the way a user would: against a staged install
# (DESTDIR), with nothing but `pkg-config --cflags --libs flowcpp`.
STAGE    := $(abspath build/stage)
EXAMPLES := $(patsubst examples/%.cpp,build/examples/%,$(wildcard examples/*.cpp))
# (prefix redefined to the staged copy: a sysroot would also move the system -L paths)
STAGE_PC := PKG_CONFIG_PATH=$(STAGE)$(LIBDIR)/pkgconfig
examples: $(EXAMPLES)

build/stage/.installed: $(INSTALL_LIB) $(PUBLIC_HDR) Makefile
	@rm -rf $(STAGE)
	@$(MAKE) --no-print-directory install DESTDIR=$(STAGE) > /dev/null
	@touch $@

build/examples/%: examples/%.cpp build/stage/.installed
	@mkdir -p $(dir $@)
	$(STAGE_PC) sh -c '$(CXX) -std=c++17 -O2 $< -o $@ $$(pkg-config --define-variable=prefix=$(STAGE)$(PREFIX) --cflags --libs flowcpp)'

# The test binary prints a line per test case, the output of those that failed or said
# something, and then one line "N passed, M failed". It runs TEST_JOBS cases at a time
# (default: one per core), each in its own process (tests/process_pool.hpp).
TEST_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
test: deps
	@$(MAKE) --no-print-directory $(TEST_BIN) $(APPS) $(EMU_APPS) examples
	@$(MAKE) --no-print-directory cuda-test-gpu
	@$(TEST_BIN) --jobs $(TEST_JOBS)

# make check runs two builds (scripts/check.sh), its last line the sum of both:
# - the tests under AddressSanitizer and UBSan, but those that run the programs ([app],
#   [apps], [examples], [mpi]: three quarters of make test's time, on programs that are
#   the same builds without the sanitizers in both) and the CUDA suite beyond the
#   emulator's own tests;
# - the CUDA suite in build/run_tests_hazards, the kernels instrumented for the emulated
#   device's memcheck, racecheck, initcheck and UBSan (synccheck is in every build), and
#   cfm2d built so. Left out for CI's time: the UNet fixtures on CUDA (about
#   2 minutes more), the gradient check on CUDA tensors (the op table's cross-device run
#   stays), reflow2d/compare2d and cfm_image on CUDA, which pass there too, and the MPI
#   ranks (make test's):
#   FC_EMULATED_DIR=build/hazards/emulated/ build/run_tests_hazards "[cuda]".
CHECK_TESTS  := ~[.]~[app]~[apps]~[examples]~[mpi]~[cuda],[cuda][emu]~[schedules]~[hazards]
HAZARD_TESTS := [cuda]~[apps]~[mpi]~[fixture]~[gradcheck],[cuda][apps][cfm2d]
check: deps apps examples
	@$(MAKE) --no-print-directory BUILD=build/sanitize SANITIZE=1 build/sanitize/run_tests
	@$(MAKE) --no-print-directory $(TEST_BIN_HAZARDS) $(BUILD)/hazards/emulated/cfm2d
	@bash scripts/check.sh $(TEST_JOBS) "$(CHECK_TESTS)" "$(HAZARD_TESTS)" $(TEST_BIN_HAZARDS) $(BUILD)/hazards/emulated/ \
	  "$(PROGRAM_ONLY_TESTS)"

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

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(CUDA_EMU_OBJ:.o=.d) $(TEST_CU_OBJ:.o=.d) $(CUDA_HAZARD_OBJ:.o=.d) $(TEST_CU_HAZARD_OBJ:.o=.d) $(CUDA_REAL_OBJ:.o=.d) $(CUDA_NONE_OBJ:.o=.d) $(APP_SRC:%.cpp=$(BUILD)/%.d) $(BENCH_SRC:%.cpp=$(BUILD)/%.d)
