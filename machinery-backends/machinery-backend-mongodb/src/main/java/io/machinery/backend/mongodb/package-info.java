/**
 * The MongoDB result backend: Go Machinery's database, collections and BSON documents,
 * wire-compatible with Go workers and clients sharing the same MongoDB. Start at {@link
 * io.machinery.backend.mongodb.MongoDbBackend}.
 */
@NullMarked
package io.machinery.backend.mongodb;

import org.jspecify.annotations.NullMarked;
