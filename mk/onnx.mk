# ONNX: the backend node-test conformance runner and the reader's fuzzer.
# Included by the Makefile, which builds the protobuf-c code (ONNX_GEN_C) and
# the reader (src/onnx/) into build/nnc itself.
#   make conformance               run the ONNX node tests through nnc
#   make fuzz-onnx FUZZ_SECONDS=N  fuzz the protobuf reader (clang libFuzzer)

ONNX_DATA    ?= /usr/share/libonnx-testdata/data
FUZZ_SECONDS ?= 60

.PHONY: conformance onnx-deps fuzz-onnx

onnx-deps:
	@./tools/ensure-onnx-deps.sh

$(BUILD)/obj/conformance/%.o: tests/conformance/%.c $(ONNX_GEN_H) $(BUILD)/gen/nn.tab.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Isrc -MMD -c -o $@ $<

$(BUILD)/onnx-conformance: $(BUILD)/obj/conformance/run.o $(OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# The quantization operators through the int8 kernels (tests/conformance/quant.c).
$(BUILD)/onnx-quant-conformance: $(BUILD)/obj/conformance/quant.o $(OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# The recursive make runs after onnx-deps, so the test data exists by then.
conformance: onnx-deps all
	$(MAKE) $(BUILD)/onnx-conformance $(BUILD)/onnx-quant-conformance
	nice $(BUILD)/onnx-conformance $(ONNX_DATA)
	$(BUILD)/onnx-quant-conformance $(ONNX_DATA)

# Inputs that once crashed it stay in tests/fuzz/onnx-crashes and are
# replayed before fuzzing.
# libFuzzer build of the reader alone, in its own folder; the seed corpus is
# a few small tensors and models from the test data.
FUZZ_DIR := build-fuzz
$(FUZZ_DIR)/fuzz-onnx: tests/fuzz/fuzz_onnx.c src/onnx/onnx.c src/support/arena.c $(ONNX_GEN_C)
	@mkdir -p $(@D)
	clang -std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=all -Iinclude -I$(BUILD)/gen -I$(BUILD)/gen/onnx -o $@ $^ -lprotobuf-c

fuzz-onnx: onnx-deps
	$(MAKE) $(FUZZ_DIR)/fuzz-onnx
	@mkdir -p $(FUZZ_DIR)/corpus-onnx
	@cp tests/fuzz/onnx-seeds/* $(FUZZ_DIR)/corpus-onnx/
	$(FUZZ_DIR)/fuzz-onnx -rss_limit_mb=2048 tests/fuzz/onnx-crashes/*
	nice $(FUZZ_DIR)/fuzz-onnx -rss_limit_mb=2048 -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	  -artifact_prefix=$(FUZZ_DIR)/ \
	  $(FUZZ_DIR)/corpus-onnx
