local x = 0 for i = 1, 200 do x = x + i end return 1
