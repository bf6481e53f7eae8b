/**
 * Configuration: {@link io.machinery.config.Config} is Go's {@code config.Config}, with Go's YAML
 * keys and environment variable names, built with {@link io.machinery.config.Config#builder()} or
 * read with {@link io.machinery.config.Config#fromEnvironment()} and {@link
 * io.machinery.config.Config#fromYaml}. Broker- and backend-specific parts ({@link
 * io.machinery.config.RedisConfig}, {@link io.machinery.config.AmqpConfig}, {@code SqsConfig},
 * {@code DynamoDbConfig}) are nested values of it. {@link io.machinery.config.ConfigReloader}
 * watches a YAML file. All types are immutable.
 */
@NullMarked
package io.machinery.config;

import org.jspecify.annotations.NullMarked;
