package io.machinery.backend.dynamodb;

import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.ComponentProvider;
import java.util.Set;

/**
 * Makes the DynamoDB result backend: https://dynamodb.REGION.amazonaws.com, or http(s)://host:port
 * of an endpoint such as dynalite (no other backend takes http URLs) for {@code Machinery.connect}:
 * {@link DynamoDbBackend#create(Config)}. Handed to {@code Machinery.connect} as {@link
 * DynamoDbBackend#provider()}.
 */
final class DynamoDbBackendProvider implements ComponentProvider {
  private static final Set<String> SCHEMES = Set.of("https", "http");

  static final DynamoDbBackendProvider INSTANCE = new DynamoDbBackendProvider();

  private DynamoDbBackendProvider() {}

  @Override
  public Kind kind() {
    return Kind.BACKEND;
  }

  @Override
  public String module() {
    return "machinery-backend-dynamodb";
  }

  @Override
  public Set<String> schemes() {
    return SCHEMES;
  }

  @Override
  public Backend backend(Config config) {
    return DynamoDbBackend.create(config);
  }
}
