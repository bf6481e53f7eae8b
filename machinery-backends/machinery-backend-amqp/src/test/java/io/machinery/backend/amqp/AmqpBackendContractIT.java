package io.machinery.backend.amqp;

import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.testkit.BackendContract;
import io.machinery.testkit.TestEndpoints;

class AmqpBackendContractIT extends BackendContract {
  @Override
  protected Config baseConfig() {
    return Config.builder()
        .broker(TestEndpoints.amqpUrl())
        .resultBackend(TestEndpoints.amqpUrl())
        .build();
  }

  @Override
  protected Backend createBackend(Config config) {
    return AmqpBackend.create(config);
  }

  /**
   * Go's AMQP backend writes later states without TaskName and CreatedAt; reading the earlier one
   * would consume it.
   */
  @Override
  protected boolean keepsGroupMetas() {
    return false; // a group is its queue of states, as in Go
  }

  @Override
  protected boolean carriesTaskNameForward() {
    return false;
  }

  /** The trigger is the read of the group's states (see ChordTrigger): no winner is kept. */
  @Override
  protected boolean keepsChordWinners() {
    return false;
  }

  @Override
  protected boolean keepsUniqueKeys() {
    return false; // why: AmqpAmqpControlIT#backendKeepsUniqueKeys
  }
}
