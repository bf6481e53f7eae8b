package io.machinery.broker.sqs;

import io.machinery.testkit.DagKillKit;

/**
 * {@link DagKillKit} on the SQS broker (ElasticMQ) with results in DynamoDB (dynalite): worker
 * processes killed with SIGKILL every few seconds during {@value #DAGS} DAGs of eight roots and
 * three joins in {@code make test} ({@code -Dmachinery.kill.dags} for more). What a killed worker
 * held comes back after the visibility timeout; a re-run dependency whose join was triggered but
 * has no state sends it.
 */
class SqsDynamoDbDagKillIT extends DagKillKit {
  /**
   * About 35 s here with five kills (what a killed worker held comes back after the visibility
   * timeout).
   */
  private static final int DAGS = 20;

  SqsDynamoDbDagKillIT() {
    super(new SqsDynamoDbChildWorkers(), DAGS);
  }
}
