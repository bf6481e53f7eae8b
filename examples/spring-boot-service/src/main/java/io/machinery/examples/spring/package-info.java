/**
 * A Spring Boot web service that sends chords per HTTP request and runs their tasks on its own
 * worker.
 */
@NullMarked
package io.machinery.examples.spring;

import org.jspecify.annotations.NullMarked;
