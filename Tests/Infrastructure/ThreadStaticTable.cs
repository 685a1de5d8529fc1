namespace Engine.Tests.Infrastructure;

/// <summary>
/// The runtime keeps each thread's [ThreadStatic] storage in a per-thread table indexed by a process-wide number given to
/// each type when its thread statics are first used on any thread. A thread's table grows lazily, to the current number
/// of such types, the first time the thread touches a type numbered past its end: a managed array of ≈8 bytes per type
/// (measured in isolation: a thread that has touched 20 such types, then one registered afterwards by another thread as
/// the 1,000th, allocates 8,136 bytes; the next such type, 32). In this test process, which registers several hundred,
/// a thread's first touch of a type registered by earlier tests after its table last grew costs 5–8 KB once, whatever
/// the code being measured (issue #16). <see cref="GrowForCurrentThread"/> registers a brand-new type and touches it on
/// the calling thread, so its table covers every type registered so far; called just before a measured window, what
/// the window allocates is the code's own (a type first touched in the window still costs its own small storage: a
/// real finding, not masked here).
/// </summary>
internal static class ThreadStaticTable
{
    private static int s_next;
    private static readonly Type[] Parts = [typeof(byte), typeof(sbyte), typeof(short), typeof(ushort), typeof(int), typeof(uint), typeof(long), typeof(ulong)];

    private static class Slot<TKey>
    {
#pragma warning disable CS0649 // written by reflection only
        [ThreadStatic] public static object? Value;
#pragma warning restore CS0649
    }

    /// <summary>Grows the calling thread's thread-static table to the number of types registered so far (see the class).</summary>
    public static void GrowForCurrentThread()
    {
        int n = Interlocked.Increment(ref s_next);
        if (n >= 4096) throw new InvalidOperationException("ThreadStaticTable: out of fresh key types.");
        var key = typeof(ValueTuple<,,,>).MakeGenericType(Parts[n % 8], Parts[n / 8 % 8], Parts[n / 64 % 8], Parts[n / 512 % 8]);
        typeof(Slot<>).MakeGenericType(key).GetField(nameof(Slot<int>.Value))!.SetValue(null, null);
    }
}
