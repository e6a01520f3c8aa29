  // -------------------------------------------------------------------------
  // Timers.
  //
  // One queue per context, a binary heap ordered by (deadline, seq); seq
  // grows with every (re)scheduling so equal deadlines run in creation
  // order. The runtime holds a single armed deadline: always the heap's
  // top, or -1 when the heap is empty, and whether any pending timer is
  // ref'd (Isopool.unrefTimer: an unref'd timer still fires, but does not
  // keep the event loop alive by itself). timerArm is called only when one
  // of the two changes, except that fireTimers always re-arms (the runtime
  // treats a fired deadline as consumed).
  //
  // A timer belongs to the job whose JavaScript set it: it keeps the job
  // tag current then (jobTag), and its callback runs under that tag
  // (timerJob), so the runtime knows whose deadline the callback runs by
  // and whose console it prints to, and what the callback starts (promise
  // continuations, timers) belongs to the same job. The pass's microtasks
  // run under no tag (timerJob(0)): they may be anyone's.

  const timers = new Map(); // id -> timer
  const heap = [];
  let nextTimerId = 1;
  let nextSeq = 1;
  let refedTimers = 0; // timers in `timers` with refed === true
  let armed = -1;
  let armedRefed = false;
  let firing = false;

  const timerBefore = (a, b) =>
    a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);

  function heapSwap(i, j) {
    const t = heap[i];
    heap[i] = heap[j];
    heap[j] = t;
    heap[i].index = i;
    heap[j].index = j;
  }

  function heapUp(i) {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!timerBefore(heap[i], heap[parent])) {
        break;
      }
      heapSwap(i, parent);
      i = parent;
    }
  }

  function heapDown(i) {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < heap.length && timerBefore(heap[l], heap[min])) {
        min = l;
      }
      if (r < heap.length && timerBefore(heap[r], heap[min])) {
        min = r;
      }
      if (min === i) {
        return;
      }
      heapSwap(i, min);
      i = min;
    }
  }

  function heapPush(timer) {
    timer.index = heap.length;
    heap.push(timer);
    heapUp(timer.index);
  }

  function heapRemove(timer) {
    const i = timer.index;
    const last = heap.pop();
    if (last !== timer) {
      heap[i] = last;
      last.index = i;
      heapDown(i);
      heapUp(last.index);
    }
    timer.index = -1;
  }

  function rearm(force) {
    const deadline = heap.length > 0 ? heap[0].deadline : -1;
    const refed = deadline !== -1 && refedTimers > 0;
    if (force || deadline !== armed || refed !== armedRefed) {
      armed = deadline;
      armedRefed = refed;
      timerArm(deadline, refed);
    }
  }

  // Drops a timer from `timers` (it is no longer pending).
  function forgetTimer(timer) {
    timers.delete(timer.id);
    if (timer.refed) {
      refedTimers--;
    }
  }

  function schedule(timer) {
    timer.deadline = now() + timer.delay;
    timer.seq = nextSeq++;
    heapPush(timer);
  }

  function addTimer(callback, delay, args, repeat) {
    if (typeof callback !== "function") {
      // HTML allows a string of code; Deno evaluates it globally.
      const code = `${callback}`;
      callback = () => (0, eval)(code);
    }
    const timer = {
      id: nextTimerId++,
      callback,
      args,
      delay: mathMax(0, toLong(delay)),
      repeat,
      tag: jobTag(),
      refed: true,
      deadline: 0,
      seq: 0,
      index: -1,
    };
    timers.set(timer.id, timer);
    refedTimers++;
    schedule(timer);
    if (!firing) {
      rearm(false);
    }
    return timer.id;
  }

  function clearTimer(id) {
    const timer = timers.get(toLong(id));
    if (timer === undefined) {
      return;
    }
    forgetTimer(timer);
    if (timer.index !== -1) {
      heapRemove(timer);
    }
    if (!firing) {
      rearm(false);
    }
  }

  function setTimeout(callback, delay = 0, ...args) {
    return addTimer(callback, delay, args, false);
  }

  function setInterval(callback, delay = 0, ...args) {
    return addTimer(callback, delay, args, true);
  }

  function clearTimeout(id = 0) {
    clearTimer(id);
  }

  function clearInterval(id = 0) {
    clearTimer(id);
  }

  // Isopool.unrefTimer / refTimer (Deno.unrefTimer): whether the timer
  // keeps the event loop alive. Unknown ids are ignored; an interval stays
  // as it is across its repeats.
  function setTimerRef(id, refed) {
    const timer = timers.get(toLong(id));
    if (timer === undefined || timer.refed === refed) {
      return;
    }
    timer.refed = refed;
    refedTimers += refed ? 1 : -1;
    if (!firing) {
      rearm(false);
    }
  }

  function unrefTimer(id) {
    setTimerRef(id, false);
  }

  function refTimer(id) {
    setTimerRef(id, true);
  }

  // Runs the timers that were due when the call began (not ones scheduled
  // by the callbacks themselves, so a zero-delay interval cannot starve the
  // loop), a microtask checkpoint after each. A callback's exception ends
  // the pass and propagates after the next deadline is armed. A stop
  // (termination) runs no `finally`: the runtime then arms the realm's
  // timers itself, so the next pass sets `firing` and `armed` right.
  function fireTimers() {
    const due = now();
    const seqLimit = nextSeq;
    firing = true;
    try {
      while (heap.length > 0) {
        const timer = heap[0];
        if (timer.deadline > due || timer.seq >= seqLimit) {
          break;
        }
        heapRemove(timer);
        if (!timer.repeat) {
          forgetTimer(timer);
        }
        timerJob(timer.tag);
        try {
          fnApply(timer.callback, globalThis, timer.args);
        } finally {
          timerJob(0);
          if (timer.repeat && timers.get(timer.id) === timer) {
            schedule(timer);
          }
        }
        runMicrotasks();
      }
    } finally {
      firing = false;
      rearm(true);
    }
  }

  // What the prelude does with SharedArrayBuffer and Atomics (late(),
  // 05-builtins.js).
  late(() => {
    if (typeof SharedArrayBuffer === "function") {
      sharedArrayBufferByteLength = getter(
        SharedArrayBuffer.prototype,
        "byteLength",
      );
    }
    if (typeof Atomics !== "object" || Atomics === null) {
      return;
    }
    // Atomics.waitAsync with a finite timeout keeps the event loop alive until
    // its promise settles, as a timer would: V8 runs the timeout as a delayed
    // task of its platform, which the loop does not count by itself. One
    // without a timeout waits for an Atomics.notify, which only a timer or an
    // op of the same realm could make: with none pending it is a stall, as
    // an unresolved promise is. The notify's resolution is a task V8 posts
    // to run now, which the loop counts (isolate/runtime.c).
    const nativeWaitAsync = Atomics.waitAsync;
    if (typeof nativeWaitAsync === "function" && typeof waitRef === "function") {
      const promiseThen = uncurry(Promise.prototype.then);
      const numberIsFinite = Number.isFinite;
      const waitRelease = () => waitRef(-1);
      const wrapped = {
        waitAsync(typedArray, index, value, timeout) {
          // ToNumber once (an object's valueOf), then what V8 would do with
          // it: undefined and NaN mean no timeout
          let args = arguments;
          let t = timeout;
          if (t !== null && (typeof t === "object" || typeof t === "function")) {
            t = +t;
            args = [typedArray, index, value, t];
          }
          const result = fnApply(nativeWaitAsync, Atomics, args);
          const timed =
            typeof t !== "symbol" && typeof t !== "bigint" && numberIsFinite(+t);
          if (timed && result.async === true) {
            waitRef(1);
            promiseThen(result.value, waitRelease, waitRelease);
          }
          return result;
        },
      }.waitAsync;
      defineProperty(Atomics, "waitAsync", {
        value: wrapped,
        writable: true,
        enumerable: false,
        configurable: true,
      });
    }
  });
