package io.machinery.testkit;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Addresses of the real servers integration tests talk to, from the environment written by {@code
 * scripts/services.sh} ({@code /tmp/machinery-services/env}). A missing address fails the test when {@code
 * CI=true} or {@code IT_REQUIRE_SERVICES=true} (so CI can never pass by skipping) and skips it otherwise.
 */
public final class TestEndpoints {
  private TestEndpoints() {}

  public static String redisUrl() {
    return require("REDIS_URL", "Redis");
  }

  /** Comma-separated node URLs of the 3-master test cluster. */
  public static String redisClusterUrl() {
    return require("REDIS_CLUSTER_URL", "a Redis cluster");
  }

  public static String amqpUrl() {
    return require("AMQP_URL", "RabbitMQ");
  }

  public static String rabbitManagementUrl() {
    return require("RABBITMQ_MANAGEMENT_URL", "the RabbitMQ management API");
  }

  /** Go Machinery's SQS broker URL for ElasticMQ (endpoint + account path; a queue name is appended). */
  public static String sqsUrl() {
    return require("SQS_URL", "an SQS server (ElasticMQ)");
  }

  /** The DynamoDB endpoint (dynalite), {@code http://host:port}. */
  public static String dynamoDbEndpoint() {
    return require("DYNAMODB_ENDPOINT", "a DynamoDB server (dynalite)");
  }

  /** {@code scripts/services.sh}, to restart a server in a fault test ({@code restart redis}). */
  public static String servicesScript() {
    return require("MACHINERY_SERVICES_SCRIPT", "the services script");
  }

  /** Whether a missing server must fail the run instead of skipping. */
  public static boolean servicesRequired() {
    return "true".equalsIgnoreCase(System.getenv("CI")) || "true".equalsIgnoreCase(System.getenv("IT_REQUIRE_SERVICES"));
  }

  /**
   * For a test that needs a tool on this machine (a redis-server binary, openssl, a native library): skips on a
   * developer machine without it, fails when services are required (CI), where nothing may skip silently.
   */
  public static void requireTool(boolean available, String why) {
    if (!available && servicesRequired()) {
      Assertions.fail(why);
    }
    Assumptions.assumeTrue(available, why);
  }

  private static String require(String variable, String what) {
    String value = System.getenv(variable);
    if (value != null && !value.isBlank()) {
      return value;
    }
    String message = variable + " is not set, so there is no " + what + " to test against. Run `make services`"
        + " and `source /tmp/machinery-services/env` (make test does both).";
    if (servicesRequired()) {
      Assertions.fail(message);
    }
    Assumptions.abort(message);
    throw new AssertionError(message);
  }
}
