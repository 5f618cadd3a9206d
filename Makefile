# The two commands of the README. Everything they need is installed by tools/setup.sh.
.PHONY: run test fuzz bench dist
run:
	tools/run.sh
test:
	tools/test.sh

# The release archive, target/dist/liaison-<version>-linux-x86_64.tar.gz: binary, site, example
# configuration and systemd unit, catalogue, docs (tools/dist.sh; docs/operating.md installs it).
dist:
	tools/dist.sh

# Release build, then Liaison side by side with nginx and against its budgets: one table, and
# BENCHMARKS.md rewritten (tools/bench.sh; about ten minutes).
bench:
	tools/bench.sh

# Runs every fuzz target (fuzz/fuzz_targets/) for FUZZ_SECONDS each (nightly toolchain and
# `cargo install cargo-fuzz`). Findings land in fuzz/artifacts/<target>/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = token_response callback_query field_validators catalog
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "== $$t ($(FUZZ_SECONDS) s)"; \
		cargo +nightly fuzz run $$t -s none -O -- -max_total_time=$(FUZZ_SECONDS) -max_len=4096 || exit 1; \
	done
