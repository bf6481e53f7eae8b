package io.machinery.testkit;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A running Redis for this test: on a test class, it is made sure of before the first test; on a
 * {@code String} parameter, that parameter receives its URL ({@code redis://host:port}). See {@link
 * MachineryServers} for where the server comes from.
 *
 * <pre>{@code
 * @WithRedis
 * class MyTasksIT {
 *   @Test
 *   void runs(@WithRedis String redisUrl) { ... Config.builder().broker(redisUrl) ... }
 * }
 * }</pre>
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD, ElementType.PARAMETER})
@ExtendWith(MachineryServers.class)
public @interface WithRedis {}
