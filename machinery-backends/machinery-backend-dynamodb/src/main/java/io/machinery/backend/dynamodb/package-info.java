/**
 * Go Machinery's DynamoDB result backend: {@link io.machinery.backend.dynamodb.DynamoDbBackend}.
 */
@NullMarked
package io.machinery.backend.dynamodb;

import org.jspecify.annotations.NullMarked;
