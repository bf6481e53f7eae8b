package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Arg;
import io.machinery.Saga;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Sagas while worker processes are killed with SIGKILL every few seconds ({@link KilledWorkers}):
 * {@code -Dmachinery.kill.sagas} sagas (default {@value #DEFAULT_SAGAS}), each of two recording
 * steps with a compensation each ({@link WorkerProcesses#COLLECT}) and a third step that fails, so
 * every saga must undo both steps. Every step must run, every compensation at least once with the
 * result of the step it undoes, and every compensation must end with a stored SUCCESS state;
 * duplicates are counted and printed. Subclass it per broker and backend with the {@link
 * ChildWorkerDeployment} to run.
 */
public abstract class SagaKillKit {
  /** Sagas in {@code make test}: 5,000 tasks. */
  static final int DEFAULT_SAGAS = 1000;

  private static final int STEPS = 2;

  private final ChildWorkerDeployment deployment;

  protected SagaKillKit(ChildWorkerDeployment deployment) {
    this.deployment = deployment;
  }

  @Test
  void killingWorkerProcessesEveryFewSecondsLosesNoCompensation() throws Exception {
    int sagas = Integer.getInteger("machinery.kill.sagas", DEFAULT_SAGAS);
    Duration killEvery = Duration.ofMillis(Long.getLong("machinery.kill.everyMillis", 3000));
    Config config = deployment.uniqueConfig("saga_kill_");
    Path dir = Files.createDirectories(Path.of("target", "saga-kill", config.defaultQueue()));
    List<Saga> sent = new ArrayList<>();
    try (Broker broker = deployment.createBroker(config);
        Backend backend = deployment.createBackend(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      KilledWorkers.Outcome<Saga> outcome =
          new KilledWorkers(deployment, config, dir)
              .run(
                  () -> send(server, sagas),
                  sagas * STEPS,
                  sagas * STEPS,
                  killEvery,
                  sagasSent ->
                      WorkerProcesses.storedSuccesses(
                          server, compensationUuids(sagasSent), KilledWorkers.STORED_PATIENCE));
      sent.addAll(outcome.sent());
      int stored = outcome.stored();
      WorkerProcesses.Runs runs = outcome.runs();
      System.out.printf(
          "[%s] %d sagas of %d steps with compensations and a failing step; %s; compensations"
              + " with a stored SUCCESS state %d%n",
          getClass().getSimpleName(),
          sagas,
          STEPS,
          outcome.figures(killEvery, "step", "compensation", sagas * STEPS),
          stored);
      assertThat(outcome.kills()).as("processes killed mid-run").isPositive();
      assertThat(runs.members()).as("steps run at least once").hasSize(sagas * STEPS);
      assertThat(sagas * STEPS - runs.callbacks().size())
          .as("compensations lost with killed workers")
          .isZero();
      assertThat(runs.callbackLines())
          .as("every compensation got the result of the step it undoes")
          .allSatisfy(line -> assertThat(line).endsWith(":1"));
      assertThat(stored).as("compensations whose stored state is SUCCESS").isEqualTo(sagas * STEPS);
    } finally {
      try {
        purge(config, sent);
      } finally {
        deployment.cleanUp(config);
      }
    }
  }

  /** The compensations each saga sends once its failing step failed. */
  private static List<String> compensationUuids(List<Saga> sagas) {
    List<String> uuids = new ArrayList<>();
    for (Saga saga : sagas) {
      saga.compensationsAfterFailureOf(STEPS).forEach(c -> uuids.add(c.uuid()));
    }
    return uuids;
  }

  /** Purges the states the test stored, through the backend's own {@link Backend#purgeState}. */
  private void purge(Config config, List<Saga> sagas) {
    try (Backend backend = deployment.createBackend(config)) {
      for (Saga saga : sagas) {
        saga.steps().forEach(step -> backend.purgeState(step.uuid()));
        for (int i = 0; i <= STEPS; i++) {
          saga.compensationsAfterFailureOf(i).forEach(c -> backend.purgeState(c.uuid()));
        }
      }
    }
  }

  /**
   * One saga: steps {@code RECORD(s * 2 + i)} (immutable, so each takes only its index), each
   * undone by {@code COLLECT(s * 2 + i)}, then a step whose argument its task cannot take.
   */
  private static Saga saga(long s) {
    Saga.Builder b = Saga.builder();
    for (int i = 0; i < STEPS; i++) {
      long index = s * STEPS + i;
      b.step(
          Signature.builder(WorkerProcesses.RECORD).args(Arg.of(index)).immutable(true).build(),
          Signature.create(WorkerProcesses.COLLECT, Arg.of(index)));
    }
    return b.step(Signature.create(WorkerProcesses.COLLECT, Arg.of("not a number"))).build();
  }

  /** Sends the sagas from four threads while the workers run; returns them in order. */
  private static List<Saga> send(Server server, int sagas) {
    return KilledWorkers.sendFromFourThreads(
        sagas,
        s -> {
          Saga saga = saga(s);
          server.sendSaga(saga);
          return saga;
        });
  }
}
