package io.machinery.config;

import java.util.Objects;

/**
 * DynamoDB table names (Go's {@code config.DynamoDBConfig}).
 *
 * @param taskStatesTable {@code TASK_STATES_TABLE}, default {@value #DEFAULT_TASK_STATES_TABLE}
 * @param groupMetasTable {@code GROUP_METAS_TABLE}, default {@value #DEFAULT_GROUP_METAS_TABLE}
 */
public record DynamoDbConfig(String taskStatesTable, String groupMetasTable) {
  public static final String DEFAULT_TASK_STATES_TABLE = "task_states";
  public static final String DEFAULT_GROUP_METAS_TABLE = "group_metas";
  public static final DynamoDbConfig DEFAULT =
      new DynamoDbConfig(DEFAULT_TASK_STATES_TABLE, DEFAULT_GROUP_METAS_TABLE);

  public DynamoDbConfig {
    Objects.requireNonNull(taskStatesTable);
    Objects.requireNonNull(groupMetasTable);
  }
}
