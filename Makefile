# nnc: a compiler for a small neural-network language.
#   make          build build/nnc
#   make run      train and evaluate examples/xor.nn
#   make test     unit tests (Criterion), golden files, example outcomes,
#                 plots/--json/terminal (tests/ui.sh), nnc fmt and the
#                 examples' layout (tests/fmt.sh), the editor files
#                 (tests/editors: TextMate grammar, Vim), make install and
#                 uninstall (tests/install.sh), no bare yy* symbol
#                 exported (tests/symbols.sh), the language server's
#                 sessions, its diagnostics = nnc check's, and Neovim
#                 talking to it (tests/lsp/), PyTorch comparison,
#                 the --target pytorch packages under torchrun (tests/pytorch)
#                 --target onnx in onnx.checker and onnxruntime (tests/onnx/)
#   make bless    regenerate golden files on purpose (review the diff!)
#   make test-asan  the same tests under AddressSanitizer + UBSan
#   make test-portable  unit + PyTorch tests of a build without BLAS
#   make bench    nnc vs PyTorch side by side; writes bench/RESULTS.md
#   make BLAS=openblas|none   large products through OpenBLAS's cblas_sgemm,
#                 loaded at run time when installed (default), or never;
#                 the build links no BLAS either way (docs/setup.md)
#   make fuzz FUZZ_SECONDS=N  each libFuzzer harness (tests/fuzz/) for N s
#   make install PREFIX=/usr/local DESTDIR=  bin/nnc, the man page, bash
#                 completion, the editor files under share/nnc; make uninstall

CC      ?= cc
BUILD   ?= build
# -ffp-contract=off: no silent FMA, so the interpreter and emitted C can agree
# bit for bit. Never -ffast-math: it folds isnan() to false.
# -O3 vectorises the elementwise loops (activations, loss gradients, Adam);
# -fno-math-errno lets sqrtf be one instruction (nnc never reads errno after
# a math function), so Adam's loop vectorises too. Neither changes a result:
# no reassociation, no contraction (docs/performance.md).
CFLAGS  ?= -O3 -g
WARN    := -Wall -Wextra -Wshadow -Wconversion -Wpointer-arith -Wstrict-prototypes -Wvla
# A switch over a kind (OpKind, LossKind, OptimKind...) lists every kind and
# has no default: a new kind that one stage misses fails every build, not
# only CI's (tables indexed by a kind check their size with _Static_assert).
WARN    += -Wswitch-enum -Werror=switch -Werror=switch-enum
# CI builds with WERROR=1: a new warning fails the build.
ifeq ($(WERROR),1)
WARN    += -Werror
endif
override CFLAGS += -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) -ffp-contract=off -fno-math-errno -Iinclude -I$(BUILD)/gen
LDLIBS  += -lcjson -lprotobuf-c -lm
# BLAS: products with m*n*k >= 32768 go to cblas_sgemm (src/runtime/gemm.c);
# smaller ones, and every product of a BLAS=none build, use portable loops.
# Nothing is linked for it: gemm.c dlopens libopenblas.so.0 at the first such
# product (Debian's libopenblas0; NNC_BLAS=off or NNC_BLAS=LIB at run time
# choose), so the build needs no <cblas.h> or -lopenblas, a run that never
# needs it does not pay for loading it, and a machine without OpenBLAS runs
# the same program on the portable loops. dlopen is in libc (glibc >= 2.34;
# older: LDLIBS=-ldl).
BLAS    ?= openblas
ifeq ($(filter openblas none,$(BLAS)),)
$(error BLAS must be openblas or none, not '$(BLAS)')
endif
ifeq ($(BLAS),openblas)
override CFLAGS += -DNNC_BLAS
endif
FLEX    ?= flex
BISON   ?= bison

PROTOC_C ?= protoc-c
# ONNX's own schema, vendored (third_party/onnx/README.md); protoc-c turns it
# into the protobuf-c code the ONNX reader (src/onnx/) and writer
# (src/emit/emit_onnx.c) use.
ONNX_PROTO ?= third_party/onnx/onnx.proto
ONNX_GEN_C := $(BUILD)/gen/onnx/onnx.pb-c.c
ONNX_GEN_H := $(BUILD)/gen/onnx/onnx.pb-c.h

SRCS    := $(wildcard src/*/*.c)
GEN_C   := $(BUILD)/gen/nn.tab.c $(BUILD)/gen/lex.yy.c $(ONNX_GEN_C)
OBJS    := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRCS)) \
           $(BUILD)/obj/gen/nn.tab.o $(BUILD)/obj/gen/lex.yy.o $(BUILD)/obj/gen/onnx/onnx.pb-c.o
MAIN    := $(BUILD)/obj/main.o
UNITS   := $(wildcard tests/unit/*.c)

.PHONY: install uninstall all run test test-unit test-golden test-examples test-torch bless test-int8 \
        test-asan test-valgrind test-portable bench bench-latency bench-peers bench-int8 lint fuzz fuzz-build deps clean

all: deps $(BUILD)/nnc

# Installs the build dependencies on a fresh Debian machine when missing.
deps:
	@./tools/ensure-deps.sh

# Switching BLAS in the same build folder recompiles gemm.c and relinks:
# the stamp changes only when the choice does.
$(shell mkdir -p $(BUILD) && (echo $(BLAS) | cmp -s - $(BUILD)/blas.stamp || echo $(BLAS) >$(BUILD)/blas.stamp))
$(BUILD)/obj/runtime/gemm.o: $(BUILD)/blas.stamp

$(BUILD)/nnc: $(MAIN) $(OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# Grouped targets (&:): one bison/flex run makes both files, also under -j.
$(BUILD)/gen/nn.tab.c $(BUILD)/gen/nn.tab.h &: grammar/nn.y
	@mkdir -p $(@D)
	$(BISON) -Wall -Werror --defines=$(BUILD)/gen/nn.tab.h -o $(BUILD)/gen/nn.tab.c $<

$(BUILD)/gen/lex.yy.c $(BUILD)/gen/lex.yy.h &: grammar/nn.l $(BUILD)/gen/nn.tab.h
	@mkdir -p $(@D)
	$(FLEX) --header-file=$(BUILD)/gen/lex.yy.h -o $(BUILD)/gen/lex.yy.c $<

# Grouped too: one protoc-c run writes the .c and the .h.
$(ONNX_GEN_C) $(ONNX_GEN_H) &: $(ONNX_PROTO)
	@mkdir -p $(@D)
	$(PROTOC_C) --proto_path=$(dir $(ONNX_PROTO)) --c_out=$(@D) $(ONNX_PROTO)

# Generated code is not ours to lint: relax the warnings flex/bison trip
# (switch-enum: switches over bison's symbol kinds rightly have a default).
$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c $(BUILD)/gen/nn.tab.h $(BUILD)/gen/lex.yy.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Wno-unused-function -Wno-sign-compare -Wno-shadow -Wno-strict-prototypes -Wno-conversion -Wno-sign-conversion -Wno-switch-enum -MMD -c -o $@ $<

$(BUILD)/obj/gen/onnx/onnx.pb-c.o: $(ONNX_GEN_C) $(ONNX_GEN_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Wno-unused-parameter -MMD -c -o $@ $<

# Every generated header exists before any of our files compiles (a fresh
# clone under make -j); -MMD then records who really includes the ONNX one.
GEN_H   := $(BUILD)/gen/nn.tab.h $(BUILD)/gen/lex.yy.h
$(BUILD)/obj/%.o: src/%.c $(GEN_H) | $(ONNX_GEN_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -c -o $@ $<

$(BUILD)/obj/tests/%.o: tests/unit/%.c $(GEN_H) | $(ONNX_GEN_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -c -o $@ $<

$(BUILD)/unit-tests: $(patsubst tests/unit/%.c,$(BUILD)/obj/tests/%.o,$(UNITS)) $(OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) -lcriterion $(LDLIBS)

run: all
	$(BUILD)/nnc run examples/xor.nn

test: all $(BUILD)/unit-tests
	@./tools/ensure-deps.sh --test
	$(BUILD)/unit-tests --jobs 2
	NNC=$(abspath $(BUILD)/nnc) ./tests/golden/run.sh
	NNC=$(abspath $(BUILD)/nnc) ./tests/examples.sh
	NNC=$(abspath $(BUILD)/nnc) ./tests/ui.sh
	NNC=$(abspath $(BUILD)/nnc) ./tests/fmt.sh
	NNC=$(abspath $(BUILD)/nnc) ./tests/editors/run.sh
	NNC=$(abspath $(BUILD)/nnc) ./tests/install.sh
	NNC=$(abspath $(BUILD)/nnc) ./tests/weights.sh
	NNC=$(abspath $(BUILD)/nnc) ./tests/checkpoint.sh
	NNC=$(abspath $(BUILD)/nnc) ./tests/symbols.sh
	NNC=$(abspath $(BUILD)/nnc) ./tests/lsp/run.sh
	NNC=$(abspath $(BUILD)/nnc) ./tests/lsp/nvim.sh
	NNC=$(abspath $(BUILD)/nnc) ./tests/torch/run.sh
	NNC=$(abspath $(BUILD)/nnc) ./tests/pytorch/run.sh
	NNC=$(abspath $(BUILD)/nnc) ./tests/onnx/run.sh
	python3 tests/emit_check.py $(abspath $(BUILD)/nnc) examples
	python3 tests/quant_check.py $(abspath $(BUILD)/nnc) examples
	python3 tools/tutorial_outputs.py --check

# The int8 C file against `nnc run --quantize int8`, row for row.
test-int8: all
	python3 tests/quant_check.py $(abspath $(BUILD)/nnc) examples

bless: all
	NNC=$(abspath $(BUILD)/nnc) ./tests/golden/run.sh --bless
	NNC=$(abspath $(BUILD)/nnc) ./tests/lsp/run.sh --bless

# Sanitizer build in its own folder so it never mixes with the normal objects.
test-asan:
	$(MAKE) BUILD=build-asan CC=clang \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  all build-asan/unit-tests
	ASAN_OPTIONS=detect_leaks=1 build-asan/unit-tests --jobs 2
	NNC=$(abspath build-asan/nnc) ASAN_OPTIONS=detect_leaks=1 ./tests/golden/run.sh
	NNC=$(abspath build-asan/nnc) ASAN_OPTIONS=detect_leaks=1 ./tests/examples.sh
	NNC=$(abspath build-asan/nnc) ASAN_OPTIONS=detect_leaks=1 ./tests/checkpoint.sh
	NNC=$(abspath build-asan/nnc) ASAN_OPTIONS=detect_leaks=1 ./tests/fmt.sh
	NNC=$(abspath build-asan/nnc) ASAN_OPTIONS=detect_leaks=1 ./tests/lsp/run.sh

# The fallback: a build without BLAS (its own folder) passes the unit tests
# (gradient checks included) and the PyTorch agreement test.
test-portable:
	$(MAKE) BUILD=build-portable BLAS=none all build-portable/unit-tests
	build-portable/unit-tests --jobs 2
	NNC=$(abspath build-portable/nnc) ./tests/torch/run.sh

# Golden cases and examples under valgrind: no errors, no leaks.
VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
test-valgrind: all
	NNC=$(abspath $(BUILD)/nnc) WRAP="$(VALGRIND)" ./tests/golden/run.sh
	NNC=$(abspath $(BUILD)/nnc) WRAP="$(VALGRIND)" ./tests/examples.sh
	NNC=$(abspath $(BUILD)/nnc) WRAP="$(VALGRIND)" ./tests/lsp/run.sh

# cppcheck must report nothing. The one suppression: loss.c's log(sum_exp)
# over cols >= 1 terms, the largest of which is exp(0) = 1, so sum_exp >= 1;
# cppcheck assumes the loop may not run (loss.c belongs to the kernel work,
# so the reason is written here rather than inline).
lint:
	cppcheck --enable=warning,performance,portability --error-exitcode=1 -q --inline-suppr \
	  --suppress=invalidFunctionArg:src/runtime/loss.c -Iinclude src/

# libFuzzer harnesses (clang), built like test-asan in their own folder. Each
# runs FUZZ_SECONDS on a copy of its committed seed corpus (new inputs go to
# build-fuzz/corpus, so the tree stays clean); crashes land in build-fuzz/.
FUZZERS      := front run lsp csv safetensors fmt
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   ?=
fuzz-build:
	$(MAKE) BUILD=build-fuzz CC=clang \
	  CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  $(patsubst %,build-fuzz/fuzz-%,$(FUZZERS))

fuzz: fuzz-build
	@for f in $(FUZZERS); do \
	  d=$$f; case $$f in front|run|lsp|fmt) d=nn;; esac; \
	  mkdir -p build-fuzz/corpus/$$f && cp tests/fuzz/corpus/$$f/* build-fuzz/corpus/$$f/ && \
	  echo "fuzz $$f: $(FUZZ_SECONDS) s" && \
	  (cd build-fuzz && nice ./fuzz-$$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 \
	    $(FUZZ_FLAGS) -print_final_stats=1 -dict=../tests/fuzz/$$d.dict corpus/$$f) || exit 1; \
	done

$(BUILD)/fuzz-%: tests/fuzz/fuzz_%.c $(OBJS)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $(filter-out %.h,$^) $(LDFLAGS) $(LDLIBS)
$(BUILD)/fuzz-front $(BUILD)/fuzz-run $(BUILD)/fuzz-lsp: tests/fuzz/fuzz_nn.h

# Benchmarks are tools, not tests: nothing here asserts a time.
$(BUILD)/latency-interp: bench/latency_interp.c $(OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# Float C vs int8 C of the digits MLP: ns per inference, weights, sizes, Cortex-M4.
bench-int8: all
	nice bench/int8.sh

bench-latency: all $(BUILD)/latency-interp
	./bench/latency.sh

# nnc's emitted C beside onnxruntime-node on the digits MLP and CNN;
# writes bench/PEERS.md (bench/peers.sh).
bench-peers: all
	./bench/peers.sh

$(BUILD)/train-bench: bench/train_bench.c $(OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# The start-up floor bench (f) compares nnc with: same CFLAGS, no libraries.
$(BUILD)/hello: bench/hello.c
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS)

# Several minutes: nnc and PyTorch, one thread each; writes bench/RESULTS.md.
bench: all $(BUILD)/latency-interp $(BUILD)/train-bench $(BUILD)/hello
	BUILD=$(BUILD) BLAS=$(BLAS) ./bench/run.sh

# Installation: exactly INSTALLED (tests/install.sh checks the list), and
# uninstall removes exactly those files and the share/nnc folders.
PREFIX   ?= /usr/local
DESTDIR  ?=
INSTALL  ?= install
EDITOR_FILES := editors/vim/README.md editors/vim/ftdetect/nn.vim editors/vim/ftplugin/nn.vim \
                editors/vim/syntax/nn.vim editors/vscode/README.md editors/vscode/package.json \
                editors/vscode/language-configuration.json editors/vscode/extension.js \
                editors/vscode/syntaxes/nn.tmLanguage.json
INSTALLED := $(PREFIX)/bin/nnc $(PREFIX)/share/man/man1/nnc.1 \
             $(PREFIX)/share/bash-completion/completions/nnc \
             $(addprefix $(PREFIX)/share/nnc/,$(EDITOR_FILES))

install: $(BUILD)/nnc
	$(INSTALL) -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	$(INSTALL) -m 755 $(BUILD)/nnc $(DESTDIR)$(PREFIX)/bin/nnc
	$(INSTALL) -m 644 docs/nnc.1 $(DESTDIR)$(PREFIX)/share/man/man1/nnc.1
	$(INSTALL) -m 644 completions/nnc.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/nnc
	@for f in $(EDITOR_FILES); do \
	  echo "$(INSTALL) -D -m 644 $$f $(DESTDIR)$(PREFIX)/share/nnc/$$f"; \
	  $(INSTALL) -D -m 644 $$f $(DESTDIR)$(PREFIX)/share/nnc/$$f || exit 1; \
	done

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	@for d in editors/vim/ftdetect editors/vim/ftplugin editors/vim/syntax editors/vim \
	          editors/vscode/syntaxes editors/vscode editors; do \
	  rmdir "$(DESTDIR)$(PREFIX)/share/nnc/$$d" 2>/dev/null || true; \
	done; rmdir "$(DESTDIR)$(PREFIX)/share/nnc" 2>/dev/null || true

clean:
	rm -rf build build-asan build-portable build-fuzz

include mk/onnx.mk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
