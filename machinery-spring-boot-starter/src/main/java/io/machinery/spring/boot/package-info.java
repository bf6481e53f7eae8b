/**
 * Spring Boot auto-configuration for Machinery: {@link
 * io.machinery.spring.boot.MachineryAutoConfiguration} builds the {@link
 * io.machinery.config.Config}, broker, backend, lock and {@link io.machinery.Server} from {@code
 * machinery.*} properties, registers {@link io.machinery.spring.boot.MachineryTask} bean methods,
 * and runs the workers with the application context ({@link
 * io.machinery.spring.boot.MachineryWorkers}).
 */
@NullMarked
package io.machinery.spring.boot;

import org.jspecify.annotations.NullMarked;
