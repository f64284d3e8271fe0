# ONNX: the reader (src/onnx/), the backend node-test conformance runner and
# the reader's fuzzer. Included by the Makefile. Only these targets need
# libprotobuf-c; build/nnc does not link it.
#   make conformance               run the ONNX node tests through nnc
#   make fuzz-onnx FUZZ_SECONDS=N  fuzz the protobuf reader (clang libFuzzer)

ONNX_PROTO   ?= /usr/lib/python3/dist-packages/onnx/onnx.proto
ONNX_DATA    ?= /usr/share/libonnx-testdata/data
PROTOC_C     ?= protoc-c
ONNX_GEN_C   := $(BUILD)/gen/onnx/onnx.pb-c.c
ONNX_GEN_H   := $(BUILD)/gen/onnx/onnx.pb-c.h
ONNX_OBJS    := $(BUILD)/obj/onnx/onnx.o $(BUILD)/obj/gen/onnx/onnx.pb-c.o
FUZZ_SECONDS ?= 60

.PHONY: conformance onnx-deps fuzz-onnx

onnx-deps:
	@./tools/ensure-onnx-deps.sh

# Generated at build time from python3-onnx's onnx.proto; never committed.
$(ONNX_GEN_C) $(ONNX_GEN_H) &: $(ONNX_PROTO)
	@mkdir -p $(@D)
	$(PROTOC_C) --proto_path=$(dir $(ONNX_PROTO)) --c_out=$(@D) $(ONNX_PROTO)

$(BUILD)/obj/gen/onnx/onnx.pb-c.o: $(ONNX_GEN_C) $(ONNX_GEN_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Wno-unused-parameter -MMD -c -o $@ $<

$(BUILD)/obj/onnx/onnx.o: $(ONNX_GEN_H)

$(BUILD)/obj/conformance/%.o: tests/conformance/%.c $(ONNX_GEN_H) $(BUILD)/gen/nn.tab.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Isrc -MMD -c -o $@ $<

$(BUILD)/onnx-conformance: $(BUILD)/obj/conformance/run.o $(ONNX_OBJS) $(OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) -lprotobuf-c $(LDLIBS)

# The recursive make runs after onnx-deps, so protoc-c exists by then.
conformance: onnx-deps all
	$(MAKE) $(BUILD)/onnx-conformance
	nice $(BUILD)/onnx-conformance $(ONNX_DATA)

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
