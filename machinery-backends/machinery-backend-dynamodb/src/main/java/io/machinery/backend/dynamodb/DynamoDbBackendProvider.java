package io.machinery.backend.dynamodb;

import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.ComponentProvider;
import java.util.Set;

/**
 * Makes the DynamoDB result backend: https://dynamodb.REGION.amazonaws.com, or http(s)://host:port
 * of an endpoint such as dynalite (no other backend takes http URLs) for {@link
 * io.machinery.Machinery#connect(Config)}: {@link DynamoDbBackend#create(Config)}. Listed in {@code
 * META-INF/services/io.machinery.spi.ComponentProvider}; public only because {@link
 * java.util.ServiceLoader} needs it.
 */
public final class DynamoDbBackendProvider implements ComponentProvider {
  private static final Set<String> SCHEMES = Set.of("https", "http");

  /** For {@link java.util.ServiceLoader}. */
  public DynamoDbBackendProvider() {}

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
