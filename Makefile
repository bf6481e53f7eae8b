# Developer and CI entry points. CI runs `.ci/run`, which is `make test`.
#
#   make services        start redis, redis-cluster, rabbitmq, memcached on 127.0.0.1 (scripts/services.sh)
#   make services-stop   stop them
#   make test            start the servers, then ./mvnw verify with the unit and integration tests (2 modules at a time)
#   make format          reformat the Java sources (google-java-format; verify checks it)
#   make unit            only the tests that need no server (surefire *Test), no servers started
#   make run             build and run the example program
#   make bench           build and run the JMH benchmarks (never part of `verify`)
#   make bench-outside   producer and worker processes side by side with Go Machinery and Asynq (scripts/bench/outside.sh)
#   make bench-scale     the scale proofs: 100,000 sleeping tasks, 1,000,000 queued, a 10,000-member chord (outside.sh scale)
#   make cli ARGS=...    build the machinery command's jar and run it (scripts/machinery ARGS)
#   make clean           ./mvnw clean

SHELL := /bin/bash
.DEFAULT_GOAL := test
.PHONY: services services-stop test unit run bench bench-outside clean jdk cli

# Where scripts/services.sh keeps PID files, logs and the env file with the endpoints.
RUN_DIR ?= $(or $(MACHINERY_RUN_DIR),/tmp/machinery-services)
export RUN_DIR

# A JDK >= 21; empty when there is none (the `jdk` target then prints what to install).
JAVA_HOME := $(shell scripts/find-jdk.sh 2>/dev/null)
export JAVA_HOME

MVNW := ./mvnw -B
BENCH_ARGS ?=

jdk:
	@if [[ -z "$(JAVA_HOME)" ]]; then scripts/find-jdk.sh; exit 1; fi

services:
	scripts/services.sh start

services-stop:
	scripts/services.sh stop

# IT_REQUIRE_SERVICES=true turns a missing server into a failure instead of a skipped test.
# The reactor builds TEST_THREADS modules at a time: on 2 cores the run is bound by the CPU, and 3 at a
# time was slower (the four broker modules took 1.3-1.9x as long each, and a timing check failed); tests tagged "disruptive" (they restart, alarm or freeze a shared server) are left out of that
# run and run alone afterwards, in the modules that have them.
# The Go interop harness builds in the background at low priority meanwhile (a cold Go build takes
# minutes; the interop module, which needs it, runs last).
# TEST_JAVA=/path/to/bin/java runs the test JVMs, and the worker processes they start, on that Java
# while Maven compiles with JAVA_HOME: `make test TEST_JAVA=.../jdk-21/bin/java` checks the library on
# the oldest Java it supports (a Java 21 runtime is enough; no javac needed). Without TEST_JAVA, the
# core's tests (the worker on the in-memory parts) run once more on Java 21 at the end
# (scripts/find-java21.sh finds or fetches one; under a minute), where a virtual thread blocking inside
# `synchronized` still holds its carrier thread. (With the test kit's too it took 1.5 min, and the
# whole of `make test` 28.5 of its 30.)
TEST_THREADS ?= 2
TEST_JAVA ?=
TEST_JVM_ARG := $(if $(TEST_JAVA),-Djvm=$(TEST_JAVA))
DISRUPTIVE_MODULES := machinery-brokers/machinery-broker-amqp,machinery-brokers/machinery-broker-gcppubsub,machinery-backends/machinery-backend-mongodb
test: jdk
	scripts/services.sh start
	scripts/build-go-harness.sh --background
	. "$(RUN_DIR)/env" && IT_REQUIRE_SERVICES=true $(MVNW) -V -T $(TEST_THREADS) verify -DexcludedGroups=disruptive $(TEST_JVM_ARG)
	. "$(RUN_DIR)/env" && IT_REQUIRE_SERVICES=true $(MVNW) verify -pl $(DISRUPTIVE_MODULES) -am -Dgroups=disruptive \
	  -Dmaven.javadoc.skip=true -Dspotless.check.skip=true $(TEST_JVM_ARG)
	$(if $(TEST_JAVA),,java21=$$(scripts/find-java21.sh) && . "$(RUN_DIR)/env" && IT_REQUIRE_SERVICES=true \
	  $(MVNW) verify -pl machinery-core -am -Djvm="$$java21" -Dmaven.javadoc.skip=true -Dspotless.check.skip=true)

# The fast loop: every *Test (no server needed); the *IT classes are skipped.
unit: jdk
	$(MVNW) verify -DskipITs

# Reformat every Java file with google-java-format (verify fails on a file it would change).
.PHONY: format
format: jdk
	$(MVNW) -q -pl '!machinery-bom' com.diffplug.spotless:spotless-maven-plugin:apply

# The example reads its endpoints from the env file when the servers are running (make services).
run: jdk
	$(MVNW) -q -DskipTests install -pl examples -am
	if [[ -r "$(RUN_DIR)/env" ]]; then . "$(RUN_DIR)/env"; fi; $(MVNW) -q -pl examples exec:java -Dexec.args=demo

bench: jdk
	$(MVNW) -q -pl machinery-benchmarks -am -DskipTests package
	"$(JAVA_HOME)/bin/java" -jar machinery-benchmarks/target/benchmarks.jar $(BENCH_ARGS)

bench-outside: jdk
	scripts/bench/outside.sh $(BENCH_ARGS)

.PHONY: bench-scale
bench-scale: jdk
	scripts/bench/outside.sh scale $(BENCH_ARGS)

# The command line: `make cli ARGS="queues --json"`; the endpoints come from the env file when the servers run.
cli: jdk
	$(MVNW) -q -DskipTests -pl machinery-cli -am package
	if [[ -r "$(RUN_DIR)/env" ]]; then . "$(RUN_DIR)/env"; fi; scripts/machinery $(ARGS)

clean: jdk
	$(MVNW) -q clean

# The dashboard's README screenshots (docs/images/dashboard-*.png): a demo deployment on the memory broker shown
# in Debian's headless Chromium (installed by the chromium plug-in of scripts/services.sh when missing).
.PHONY: screenshots
screenshots: jdk
	scripts/services.sh start chromium
	$(MVNW) -q -DskipTests install -pl machinery-dashboard -am
	$(MVNW) -q -pl machinery-dashboard exec:java -Dexec.classpathScope=test \
	  -Dexec.mainClass=io.machinery.dashboard.DashboardScreenshots -Dexec.args="$(CURDIR)/docs/images"
