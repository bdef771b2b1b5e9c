/**
 * The method interceptor behind {@link dev.pals.spring.AdvisoryLocked}: finding and validating
 * locked methods, resolving lock names, taking the lock around the call.
 */
@NullMarked
package dev.pals.spring.aop;

import org.jspecify.annotations.NullMarked;
