package io.machinery.examples.spring;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/**
 * The service: {@code POST /chords} sends {@code multiply(add(a, b), add(c, d), ...)} as a chord
 * and answers 202 with where to read it; {@code GET /chords/{id}} serves its state and result. The
 * worker that runs the tasks lives in this JVM (machinery-spring-boot-starter starts it with the
 * context); other instances, or Go workers, on the same Redis share the work.
 *
 * <pre>
 * REDIS_URL=redis://127.0.0.1:6379 ./mvnw -pl examples/spring-boot-service -am exec:java ...
 * curl -s -XPOST localhost:8080/chords -H 'content-type: application/json' -d '{"pairs":[[1,1],[2,2],[5,6]]}'
 * curl -s localhost:8080/chords/chord_...   # {"id":"chord_...","state":"SUCCESS","result":88}
 * </pre>
 */
@SpringBootApplication
public class SpringBootServiceApplication {
  public static void main(String[] args) {
    SpringApplication.run(SpringBootServiceApplication.class, args);
  }
}
