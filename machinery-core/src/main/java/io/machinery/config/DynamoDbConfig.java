package io.machinery.config;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * DynamoDB table names (Go's {@code config.DynamoDBConfig}).
 *
 * @param taskStatesTable {@code TASK_STATES_TABLE}, default {@value #DEFAULT_TASK_STATES_TABLE}
 * @param groupMetasTable {@code GROUP_METAS_TABLE}, default {@value #DEFAULT_GROUP_METAS_TABLE}
 */
public record DynamoDbConfig(String taskStatesTable, String groupMetasTable) {
  /** DynamoDB's rule for table names; before {@link #DEFAULT}, which it checks. */
  private static final Pattern TABLE_NAME = Pattern.compile("[A-Za-z0-9_.-]{3,255}");

  public static final String DEFAULT_TASK_STATES_TABLE = "task_states";
  public static final String DEFAULT_GROUP_METAS_TABLE = "group_metas";
  public static final DynamoDbConfig DEFAULT =
      new DynamoDbConfig(DEFAULT_TASK_STATES_TABLE, DEFAULT_GROUP_METAS_TABLE);

  /**
   * Checks the names.
   *
   * @throws IllegalArgumentException when a name is not one DynamoDB takes: 3 to 255 letters,
   *     digits, {@code _}, {@code -} and {@code .} (a blank or padded name included)
   */
  public DynamoDbConfig {
    checkTable("DynamoDbConfig.taskStatesTable", taskStatesTable);
    checkTable("DynamoDbConfig.groupMetasTable", groupMetasTable);
  }

  /**
   * DynamoDB refuses any other table name (ValidationException) on the first call, after the worker
   * has started; Go takes the name and fails the same way then.
   */
  static String checkTable(String setting, String value) {
    Objects.requireNonNull(value, setting);
    if (!TABLE_NAME.matcher(value).matches()) {
      throw new IllegalArgumentException(
          setting
              + " must be a DynamoDB table name: 3 to 255 letters, digits, '_', '-' and '.', without"
              + " spaces (DynamoDB refuses any other on first use), was '"
              + value
              + "'");
    }
    return value;
  }
}
