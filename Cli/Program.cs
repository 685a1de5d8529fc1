Console.WriteLine("mtl: not written yet");
return 0;
