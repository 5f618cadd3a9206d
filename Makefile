# The two commands of the README. Everything they need is installed by tools/setup.sh.
.PHONY: run test
run:
	tools/run.sh
test:
	tools/test.sh
